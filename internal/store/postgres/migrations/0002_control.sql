-- The control plane (package control): users, organizations, their
-- members, packages, collections, domains, API tokens, sessions and
-- sign-in links.
--
-- Conventions:
--   - ids are the text of control.NewID. Text compares bytewise
--     (COLLATE "C"), which is the order of every list, the same as the
--     SQLite store's.
--   - Times are timestamptz; NULL is the zero time.
--   - Roles are control.Role values: 1 Member, 2 Admin, 3 Owner. No row
--     is kept for no role.
--   - Scopes are control.Scope (1 read, 2 write), sources control.Source
--     (1 api, 2 collection), domain states control.DomainStatus
--     (1 pending, 2 verified, 3 failing).
--   - Rules are the manifest's JSON as text (not jsonb, which would
--     reorder and respace it), stored as given.
--   - Dependent rows are deleted by the store, as the SQLite store does,
--     and references are checked before they are written; every write
--     holds the control lock (an advisory lock), so the checks cannot
--     race.

CREATE TABLE users (
	id            text COLLATE "C" PRIMARY KEY,
	email         text COLLATE "C" NOT NULL UNIQUE,  -- as control.NormalizeEmail made it
	name          text        NOT NULL,
	password_hash text        NOT NULL,               -- '' for sign-in links only
	server_admin  boolean     NOT NULL,
	created       timestamptz
);

CREATE TABLE orgs (
	id           text COLLATE "C" PRIMARY KEY,
	name         text COLLATE "C" NOT NULL UNIQUE,
	display_name text        NOT NULL,
	personal_of  text COLLATE "C" NOT NULL,           -- a user id, or ''
	created      timestamptz
);

CREATE TABLE org_members (
	org_id  text COLLATE "C" NOT NULL,
	user_id text COLLATE "C" NOT NULL,
	role    smallint NOT NULL CHECK (role BETWEEN 1 AND 3),
	PRIMARY KEY (org_id, user_id)
);
-- A user's organizations.
CREATE INDEX org_members_user ON org_members (user_id, org_id);

CREATE TABLE packages (
	id         text COLLATE "C" PRIMARY KEY,
	org_id     text COLLATE "C" NOT NULL,
	name       text COLLATE "C" NOT NULL,
	host       text COLLATE "C" NOT NULL,
	rule       text        NOT NULL,
	source     smallint    NOT NULL CHECK (source IN (1, 2)),
	collection text COLLATE "C" NOT NULL,             -- a collection id, or ''
	created    timestamptz,
	updated    timestamptz
);
-- Names are unique within an organization regardless of case (package
-- names are ASCII, which lower() folds); the index also finds an
-- organization's packages.
CREATE UNIQUE INDEX packages_org_name ON packages (org_id, lower(name));
CREATE INDEX packages_host ON packages (host, id);
CREATE INDEX packages_collection ON packages (collection, id);

CREATE TABLE package_members (
	package_id text COLLATE "C" NOT NULL,
	user_id    text COLLATE "C" NOT NULL,
	role       smallint NOT NULL CHECK (role BETWEEN 1 AND 3),
	PRIMARY KEY (package_id, user_id)
);
-- The packages a user has a role on.
CREATE INDEX package_members_user ON package_members (user_id, package_id);

CREATE TABLE collections (
	id      text COLLATE "C" PRIMARY KEY,
	org_id  text COLLATE "C" NOT NULL,
	name    text        NOT NULL,
	rule    text        NOT NULL,
	created timestamptz,
	updated timestamptz
);
CREATE INDEX collections_org ON collections (org_id, id);

CREATE TABLE domains (
	name          text COLLATE "C" PRIMARY KEY,
	org_id        text COLLATE "C" NOT NULL,
	status        smallint    NOT NULL CHECK (status BETWEEN 1 AND 3),
	challenge     text        NOT NULL,
	last_check    timestamptz,
	last_error    text        NOT NULL,
	verified      timestamptz,
	failing_since timestamptz,
	created       timestamptz
);
CREATE INDEX domains_org ON domains (org_id, name);

CREATE TABLE tokens (
	id        text COLLATE "C" PRIMARY KEY,
	user_id   text COLLATE "C" NOT NULL,
	name      text        NOT NULL,
	scope     smallint    NOT NULL CHECK (scope IN (1, 2)),
	hash      bytea       NOT NULL UNIQUE,            -- SHA-256 of the secret
	created   timestamptz,
	expires   timestamptz,
	last_used timestamptz,
	revoked   timestamptz
);
CREATE INDEX tokens_user ON tokens (user_id, id);

CREATE TABLE sessions (
	hash    bytea PRIMARY KEY,                        -- SHA-256 of the cookie's secret
	user_id text COLLATE "C" NOT NULL,
	created timestamptz,
	expires timestamptz
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires);

CREATE TABLE sign_in_links (
	hash    bytea PRIMARY KEY,
	user_id text COLLATE "C" NOT NULL,
	expires timestamptz
);
CREATE INDEX sign_in_links_expires ON sign_in_links (expires);

-- The config version: every committed transaction that changed what the
-- gateway serves adds one, and sends the new version on the channel
-- portico_config in the same transaction. Replicas listen, and poll it
-- as a safety net.
CREATE TABLE config_version (
	id      int    PRIMARY KEY CHECK (id = 1),
	version bigint NOT NULL
);
INSERT INTO config_version (id, version) VALUES (1, 0);

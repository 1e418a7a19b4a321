-- The control plane (package control): users, organizations, their
-- members, packages, collections, domains, API tokens, sessions and
-- sign-in links.
--
-- Conventions:
--   - ids are the text of control.NewID; text compares bytewise (SQLite's
--     BINARY collation), which is the order of every list.
--   - Times are Unix milliseconds, UTC; NULL is the zero time.
--   - Roles are control.Role values: 1 Member, 2 Admin, 3 Owner. No row
--     is kept for no role.
--   - Scopes are control.Scope (1 read, 2 write), sources control.Source
--     (1 api, 2 collection), domain states control.DomainStatus
--     (1 pending, 2 verified, 3 failing).
--   - Rules are the manifest's JSON text, stored as given.
--   - Foreign keys are not enforced (the store's connections turn them
--     off): the store deletes dependent rows itself and checks that a
--     referenced row exists before it writes a reference.

CREATE TABLE users (
	id            TEXT NOT NULL PRIMARY KEY,
	email         TEXT NOT NULL UNIQUE,      -- as control.NormalizeEmail made it
	name          TEXT NOT NULL,
	password_hash TEXT NOT NULL,             -- '' for sign-in links only
	server_admin  INTEGER NOT NULL,
	created       INTEGER
) WITHOUT ROWID;

CREATE TABLE orgs (
	id           TEXT NOT NULL PRIMARY KEY,
	name         TEXT NOT NULL UNIQUE,
	display_name TEXT NOT NULL,
	personal_of  TEXT NOT NULL,              -- a user id, or ''
	created      INTEGER
) WITHOUT ROWID;

CREATE TABLE org_members (
	org_id  TEXT NOT NULL,
	user_id TEXT NOT NULL,
	role    INTEGER NOT NULL CHECK (role BETWEEN 1 AND 3),
	PRIMARY KEY (org_id, user_id)
) WITHOUT ROWID;
-- A user's organizations.
CREATE INDEX org_members_user ON org_members (user_id, org_id);

CREATE TABLE packages (
	id         TEXT NOT NULL PRIMARY KEY,
	org_id     TEXT NOT NULL,
	name       TEXT NOT NULL,
	host       TEXT NOT NULL,
	rule       TEXT NOT NULL,
	source     INTEGER NOT NULL CHECK (source IN (1, 2)),
	collection TEXT NOT NULL,                -- a collection id, or ''
	created    INTEGER,
	updated    INTEGER
) WITHOUT ROWID;
-- Names are unique within an organization regardless of case (package
-- names are ASCII, which lower() folds); the index also finds an
-- organization's packages.
CREATE UNIQUE INDEX packages_org_name ON packages (org_id, lower(name));
CREATE INDEX packages_host ON packages (host, id);
CREATE INDEX packages_collection ON packages (collection, id);

CREATE TABLE package_members (
	package_id TEXT NOT NULL,
	user_id    TEXT NOT NULL,
	role       INTEGER NOT NULL CHECK (role BETWEEN 1 AND 3),
	PRIMARY KEY (package_id, user_id)
) WITHOUT ROWID;
-- The packages a user has a role on.
CREATE INDEX package_members_user ON package_members (user_id, package_id);

CREATE TABLE collections (
	id      TEXT NOT NULL PRIMARY KEY,
	org_id  TEXT NOT NULL,
	name    TEXT NOT NULL,
	rule    TEXT NOT NULL,
	created INTEGER,
	updated INTEGER
) WITHOUT ROWID;
CREATE INDEX collections_org ON collections (org_id, id);

CREATE TABLE domains (
	name          TEXT NOT NULL PRIMARY KEY,
	org_id        TEXT NOT NULL,
	status        INTEGER NOT NULL CHECK (status BETWEEN 1 AND 3),
	challenge     TEXT NOT NULL,
	last_check    INTEGER,
	last_error    TEXT NOT NULL,
	verified      INTEGER,
	failing_since INTEGER,
	created       INTEGER
) WITHOUT ROWID;
CREATE INDEX domains_org ON domains (org_id, name);

CREATE TABLE tokens (
	id        TEXT NOT NULL PRIMARY KEY,
	user_id   TEXT NOT NULL,
	name      TEXT NOT NULL,
	scope     INTEGER NOT NULL CHECK (scope IN (1, 2)),
	hash      BLOB NOT NULL UNIQUE,          -- SHA-256 of the secret
	created   INTEGER,
	expires   INTEGER,
	last_used INTEGER,
	revoked   INTEGER
) WITHOUT ROWID;
CREATE INDEX tokens_user ON tokens (user_id, id);

CREATE TABLE sessions (
	hash    BLOB NOT NULL PRIMARY KEY,       -- SHA-256 of the cookie's secret
	user_id TEXT NOT NULL,
	created INTEGER,
	expires INTEGER
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires);

CREATE TABLE sign_in_links (
	hash    BLOB NOT NULL PRIMARY KEY,
	user_id TEXT NOT NULL,
	expires INTEGER
) WITHOUT ROWID;
CREATE INDEX sign_in_links_expires ON sign_in_links (expires);

-- The config version: every committed transaction that changed what the
-- gateway serves adds one. Gateways poll it to notice changes made by
-- another process (such as "portico import") on the same file.
CREATE TABLE config_version (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	version INTEGER NOT NULL
);
INSERT INTO config_version (id, version) VALUES (1, 0);

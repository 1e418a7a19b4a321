-- Automatic HTTPS (package tlsstore): certificates, their keys and
-- metadata, the ACME account and challenge tokens, as certmagic's
-- key-value storage, and the locks that make one replica at a time
-- order a name's certificate. Independent of the analytics and control
-- tables but for the one column added to domains.
--
--   - Keys are certmagic's slash-separated paths, compared bytewise
--     (COLLATE "C"), so that the keys under "a/" are the range
--     ("a/", "a0").
--   - A lock is held while its row's expires is in the future, by the
--     database's clock, so that replicas' clocks need not agree; a
--     holder that stopped refreshing it (it crashed) loses it then.

CREATE TABLE tls_data (
	key      text COLLATE "C" PRIMARY KEY,
	value    bytea       NOT NULL,
	modified timestamptz NOT NULL
);

CREATE TABLE tls_locks (
	name    text COLLATE "C" PRIMARY KEY,
	owner   text        NOT NULL,
	expires timestamptz NOT NULL
);

-- A domain whose plain HTTP requests are all redirected to HTTPS.
ALTER TABLE domains ADD COLUMN https_only boolean NOT NULL DEFAULT false;

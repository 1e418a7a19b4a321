-- Automatic HTTPS (package tlsstore): certificates, their keys and
-- metadata, the ACME account and challenge tokens, as certmagic's
-- key-value storage, and the locks that make one gateway at a time
-- order a name's certificate. Independent of the analytics and control
-- tables but for the one column added to domains.
--
--   - Keys are certmagic's slash-separated paths, compared bytewise
--     (BINARY), so that the keys under "a/" are the range ("a/", "a0").
--   - Times are Unix milliseconds, UTC.
--   - A lock is held while its row's expires is in the future; a
--     holder that stopped refreshing it (it crashed) loses it then.

CREATE TABLE tls_data (
	key      TEXT NOT NULL PRIMARY KEY,
	value    BLOB NOT NULL,
	modified INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE tls_locks (
	name    TEXT NOT NULL PRIMARY KEY,
	owner   TEXT NOT NULL,
	expires INTEGER NOT NULL
) WITHOUT ROWID;

-- A domain whose plain HTTP requests are all redirected to HTTPS.
ALTER TABLE domains ADD COLUMN https_only INTEGER NOT NULL DEFAULT 0;

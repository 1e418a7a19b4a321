-- Raw events, for export and retention. seq orders them as they were
-- stored: export cursors are seq values, and AUTOINCREMENT never reuses
-- one, even after retention deleted every row.
CREATE TABLE events (
	seq     INTEGER PRIMARY KEY AUTOINCREMENT,
	id      BLOB NOT NULL UNIQUE,     -- the ULID, 16 bytes
	time    INTEGER NOT NULL,         -- Unix milliseconds
	package TEXT NOT NULL,
	data    TEXT NOT NULL             -- the event as JSON
);
CREATE INDEX events_time ON events (time);

-- Rollups: counts per hour and per day. Absent values are '' so that the
-- primary key treats them as one value. bucket is Unix seconds.
CREATE TABLE rollup_hour (
	package   TEXT NOT NULL,
	bucket    INTEGER NOT NULL,
	artifact  TEXT NOT NULL,
	kind      TEXT NOT NULL,
	version   TEXT NOT NULL,
	client    TEXT NOT NULL,
	os        TEXT NOT NULL,
	country   TEXT NOT NULL,
	org       TEXT NOT NULL,
	source    TEXT NOT NULL,
	bot       INTEGER NOT NULL,
	requests  INTEGER NOT NULL,
	downloads INTEGER NOT NULL,
	PRIMARY KEY (package, bucket, artifact, kind, version, client, os, country, org, source, bot)
) WITHOUT ROWID;

CREATE TABLE rollup_day (
	package   TEXT NOT NULL,
	bucket    INTEGER NOT NULL,
	artifact  TEXT NOT NULL,
	kind      TEXT NOT NULL,
	version   TEXT NOT NULL,
	client    TEXT NOT NULL,
	os        TEXT NOT NULL,
	country   TEXT NOT NULL,
	org       TEXT NOT NULL,
	source    TEXT NOT NULL,
	bot       INTEGER NOT NULL,
	requests  INTEGER NOT NULL,
	downloads INTEGER NOT NULL,
	PRIMARY KEY (package, bucket, artifact, kind, version, client, os, country, org, source, bot)
) WITHOUT ROWID;

-- The downloaders seen each day, to count each once. Rows are deleted two
-- days after their day; uniques_day keeps the counts.
CREATE TABLE downloaders (
	day      INTEGER NOT NULL,
	package  TEXT NOT NULL,
	artifact TEXT NOT NULL,
	kind     TEXT NOT NULL,
	hash     INTEGER NOT NULL,
	PRIMARY KEY (day, package, artifact, kind, hash)
) WITHOUT ROWID;

CREATE TABLE uniques_day (
	package     TEXT NOT NULL,
	day         INTEGER NOT NULL,
	artifact    TEXT NOT NULL,
	kind        TEXT NOT NULL,
	downloaders INTEGER NOT NULL,
	PRIMARY KEY (package, day, artifact, kind)
) WITHOUT ROWID;

-- Counted docker pulls, to fold the second GET of each (store.FoldPulls).
CREATE TABLE pull_windows (
	hash INTEGER NOT NULL,
	at   INTEGER NOT NULL,   -- Unix milliseconds
	type INTEGER NOT NULL,
	used INTEGER NOT NULL,
	PRIMARY KEY (hash, at)
) WITHOUT ROWID;
CREATE INDEX pull_windows_at ON pull_windows (at);

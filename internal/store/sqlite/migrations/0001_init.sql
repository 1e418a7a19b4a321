-- Raw events, for export and retention. seq orders them as they were
-- stored: export cursors are seq values, and AUTOINCREMENT never reuses
-- one, even after retention deleted every row. Events are stored in
-- about the order of their time, so retention walks seq from the oldest
-- and no index on time is kept: it would cost every insert.
CREATE TABLE events (
	seq     INTEGER PRIMARY KEY AUTOINCREMENT,
	id      BLOB NOT NULL UNIQUE,     -- the ULID, 16 bytes
	time    INTEGER NOT NULL,         -- Unix milliseconds
	package TEXT NOT NULL,
	data    TEXT NOT NULL             -- the event as JSON
);

-- Rollups: counts per hour and per day. Appends update the hourly rows;
-- once a day is over, Maintain sums its hours into daily rows and moves
-- closed_until past it. Queries read closed days from rollup_day, the
-- rest from rollup_hour. Events of closed days that arrive late update
-- both. Hourly rows of closed days are deleted after 35 days
-- (hours_from).
--
-- Each event is counted once in the total row of its package, bucket,
-- artifact, kind, robot flag and source (dim ''), and once in a row for
-- each of its version, client, os, country and org (dim names that
-- dimension, value holds it). Unknown values are '' so that the primary
-- key treats them as one. bucket is Unix seconds.
CREATE TABLE rollup_hour (
	package   TEXT NOT NULL,
	bucket    INTEGER NOT NULL,
	artifact  TEXT NOT NULL,
	kind      TEXT NOT NULL,
	bot       INTEGER NOT NULL,
	source    TEXT NOT NULL,
	dim       TEXT NOT NULL,
	value     TEXT NOT NULL,
	requests  INTEGER NOT NULL,
	downloads INTEGER NOT NULL,
	PRIMARY KEY (package, bucket, artifact, kind, bot, source, dim, value)
) WITHOUT ROWID;
-- Queries over every package read by dimension and time.
CREATE INDEX rollup_hour_dim ON rollup_hour (dim, bucket);

CREATE TABLE rollup_day (
	package   TEXT NOT NULL,
	bucket    INTEGER NOT NULL,
	artifact  TEXT NOT NULL,
	kind      TEXT NOT NULL,
	bot       INTEGER NOT NULL,
	source    TEXT NOT NULL,
	dim       TEXT NOT NULL,
	value     TEXT NOT NULL,
	requests  INTEGER NOT NULL,
	downloads INTEGER NOT NULL,
	PRIMARY KEY (package, bucket, artifact, kind, bot, source, dim, value)
) WITHOUT ROWID;
CREATE INDEX rollup_day_dim ON rollup_day (dim, bucket);

-- The daily rollup summed over packages, artifacts, kinds and sources
-- (those columns are ''), for project-wide queries. Its key starts with
-- dim and bucket, the columns every query on it restricts, so that a
-- query reads one contiguous run of rows.
CREATE TABLE rollup_day_all (
	package   TEXT NOT NULL,
	bucket    INTEGER NOT NULL,
	artifact  TEXT NOT NULL,
	kind      TEXT NOT NULL,
	bot       INTEGER NOT NULL,
	source    TEXT NOT NULL,
	dim       TEXT NOT NULL,
	value     TEXT NOT NULL,
	requests  INTEGER NOT NULL,
	downloads INTEGER NOT NULL,
	PRIMARY KEY (dim, bucket, bot, value, package, artifact, kind, source)
) WITHOUT ROWID;

CREATE TABLE rollup_state (
	id           INTEGER PRIMARY KEY CHECK (id = 1),
	closed_until INTEGER NOT NULL,  -- Unix seconds: days before are in rollup_day
	hours_from   INTEGER NOT NULL   -- Unix seconds: hours before were deleted
);
INSERT INTO rollup_state (id, closed_until, hours_from) VALUES (1, 0, 0);

-- The downloaders seen each day, to count each once: key is the
-- downloader hash mixed with the package, artifact and kind
-- (store.Downloader). Rows are deleted two days after their day;
-- uniques_day keeps the counts.
CREATE TABLE downloaders (
	day INTEGER NOT NULL,
	key INTEGER NOT NULL,
	PRIMARY KEY (day, key)
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

-- The digests that docker tags resolved to, to count pulls by digest
-- under their tag (store.TagDigests).
CREATE TABLE docker_tags (
	image  TEXT NOT NULL,
	digest TEXT NOT NULL,
	tag    TEXT NOT NULL,
	at     INTEGER NOT NULL,   -- Unix milliseconds: when last seen
	PRIMARY KEY (image, digest)
) WITHOUT ROWID;

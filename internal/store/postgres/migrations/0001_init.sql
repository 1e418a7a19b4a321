-- Raw events, partitioned by day of their time: retention drops whole
-- partitions. xid is the inserting transaction: export orders by it and
-- reads only below the oldest transaction still running, so that no row
-- can commit behind an export cursor.
CREATE TABLE events (
	id       uuid        NOT NULL,
	time     timestamptz NOT NULL,
	xid      xid8        NOT NULL DEFAULT pg_current_xact_id(),
	package  text COLLATE "C"        NOT NULL,
	data     text        NOT NULL,
	PRIMARY KEY (time, id)
) PARTITION BY RANGE (time);
CREATE INDEX events_xid ON events (xid, id);

-- Text keys compare bytewise (COLLATE "C"): faster, and the same order
-- wherever the database was created.

-- Rollups: counts per hour and per day. Appends update the hourly rows;
-- once a day is over, Maintain sums its hours into daily rows and moves
-- closed_until past it. Queries read closed days from rollup_day, the
-- rest from rollup_hour. Events of closed days that arrive late update
-- both. Hourly rows of closed days are deleted after 35 days
-- (hours_from).
-- Each event is counted once in the total row of its package, bucket,
-- artifact, kind, robot flag and source (dim ''), and once in a row for
-- each of its version, client, os, country and org (dim names that
-- dimension, value holds it). Unknown values are '' so that the primary
-- key treats them as one.
CREATE TABLE rollup_hour (
	package   text COLLATE "C"        NOT NULL,
	bucket    timestamptz NOT NULL,
	artifact  text COLLATE "C"        NOT NULL,
	kind      text COLLATE "C"        NOT NULL,
	bot       boolean     NOT NULL,
	source    text COLLATE "C"        NOT NULL,
	dim       text COLLATE "C"        NOT NULL,
	value     text COLLATE "C"        NOT NULL,
	requests  bigint      NOT NULL,
	downloads bigint      NOT NULL,
	PRIMARY KEY (package, bucket, artifact, kind, bot, source, dim, value)
) WITH (fillfactor = 70); -- room on each page for HOT updates of the counts
-- Queries over every package read by dimension and time.
CREATE INDEX rollup_hour_dim ON rollup_hour (dim, bucket);

CREATE TABLE rollup_day (LIKE rollup_hour INCLUDING ALL) WITH (fillfactor = 70);

-- The daily rollup summed over packages, artifacts, kinds and sources
-- (those columns are ''), for project-wide queries.
CREATE TABLE rollup_day_all (LIKE rollup_hour INCLUDING ALL) WITH (fillfactor = 70);

CREATE TABLE rollup_state (
	id           int         PRIMARY KEY CHECK (id = 1),
	closed_until timestamptz NOT NULL,  -- days before are in rollup_day
	hours_from   timestamptz NOT NULL   -- hours before were deleted
);
INSERT INTO rollup_state (id, closed_until, hours_from) VALUES (1, 'epoch', 'epoch');

-- The downloaders seen each day, to count each once: key is the
-- downloader hash mixed with the package, artifact and kind
-- (store.Downloader). Rows are deleted two days after their day;
-- uniques_day keeps the counts.
CREATE TABLE downloaders (
	day timestamptz NOT NULL,
	key bigint      NOT NULL,
	PRIMARY KEY (day, key)
);

CREATE TABLE uniques_day (
	package     text COLLATE "C"        NOT NULL,
	day         timestamptz NOT NULL,
	artifact    text COLLATE "C"        NOT NULL,
	kind        text COLLATE "C"        NOT NULL,
	downloaders bigint      NOT NULL,
	PRIMARY KEY (package, day, artifact, kind)
) WITH (fillfactor = 70);

-- Counted docker pulls, to fold the second GET of each (store.FoldPulls).
CREATE TABLE pull_windows (
	hash bigint   NOT NULL,
	at   bigint   NOT NULL,   -- Unix milliseconds
	type smallint NOT NULL,
	used boolean  NOT NULL,
	PRIMARY KEY (hash, at)
);
CREATE INDEX pull_windows_at ON pull_windows (at);

-- The daily salt of the downloader hash, shared by the replicas for its
-- day and deleted soon after.
CREATE TABLE salts (
	day  timestamptz PRIMARY KEY,
	salt bytea       NOT NULL
);

-- The digests that docker tags resolved to, to count pulls by digest
-- under their tag (store.TagDigests).
CREATE TABLE docker_tags (
	image  text   COLLATE "C" NOT NULL,
	digest text   COLLATE "C" NOT NULL,
	tag    text   NOT NULL,
	at     bigint NOT NULL,   -- Unix milliseconds: when last seen
	PRIMARY KEY (image, digest)
);

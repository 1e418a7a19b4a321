-- Raw events, partitioned by day of their time: retention drops whole
-- partitions. xid is the inserting transaction: export orders by it and
-- reads only below the oldest transaction still running, so that no row
-- can commit behind an export cursor.
CREATE TABLE events (
	id       uuid        NOT NULL,
	time     timestamptz NOT NULL,
	xid      xid8        NOT NULL DEFAULT pg_current_xact_id(),
	package  text        NOT NULL,
	data     text        NOT NULL,
	PRIMARY KEY (time, id)
) PARTITION BY RANGE (time);
CREATE INDEX events_xid ON events (xid, id);

-- Rollups: counts per hour and per day, kept current by every append.
-- Absent values are '' so that the primary key treats them as one value.
CREATE TABLE rollup_hour (
	package   text        NOT NULL,
	bucket    timestamptz NOT NULL,
	artifact  text        NOT NULL,
	kind      text        NOT NULL,
	version   text        NOT NULL,
	client    text        NOT NULL,
	os        text        NOT NULL,
	country   text        NOT NULL,
	org       text        NOT NULL,
	source    text        NOT NULL,
	bot       boolean     NOT NULL,
	requests  bigint      NOT NULL,
	downloads bigint      NOT NULL,
	PRIMARY KEY (package, bucket, artifact, kind, version, client, os, country, org, source, bot)
);

CREATE TABLE rollup_day (LIKE rollup_hour INCLUDING ALL);

-- The downloaders seen each day, to count each once; uniques_day keeps
-- the counts after the rows are deleted.
CREATE TABLE downloaders (
	day      timestamptz NOT NULL,
	package  text        NOT NULL,
	artifact text        NOT NULL,
	kind     text        NOT NULL,
	hash     bigint      NOT NULL,
	PRIMARY KEY (day, package, artifact, kind, hash)
);

CREATE TABLE uniques_day (
	package     text        NOT NULL,
	day         timestamptz NOT NULL,
	artifact    text        NOT NULL,
	kind        text        NOT NULL,
	downloaders bigint      NOT NULL,
	PRIMARY KEY (package, day, artifact, kind)
);

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

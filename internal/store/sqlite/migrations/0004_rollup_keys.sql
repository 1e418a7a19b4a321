-- Rollup keys in the order queries read them.
--
-- The hourly rollup is keyed by dimension and hour first, as
-- rollup_day_all is. Queries over every package read today's hours (and
-- the first day of their range) from it; through the (dim, bucket) index,
-- each row cost a lookup into the table for its counts, which for a day
-- of organizations over many packages was most of a dashboard query.
-- Keyed this way, they read one contiguous run of rows, and so do the
-- appends, closing a day and thinning hours; a query on one package
-- reads the rows of its hours and keeps its own. The index is no longer
-- needed, which also spares appends its writes.
--
-- The daily rollup is keyed by package, then dimension, then day: a
-- query on one package reads one dimension, and the rows of the others
-- (above all organizations, the most numerous) no longer sit between
-- its days.
CREATE TABLE rollup_hour_new (
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
	PRIMARY KEY (dim, bucket, package, artifact, kind, bot, source, value)
) WITHOUT ROWID;
INSERT INTO rollup_hour_new SELECT package, bucket, artifact, kind, bot, source, dim, value, requests, downloads
	FROM rollup_hour ORDER BY dim, bucket, package, artifact, kind, bot, source, value;
DROP TABLE rollup_hour;
ALTER TABLE rollup_hour_new RENAME TO rollup_hour;

CREATE TABLE rollup_day_new (
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
	PRIMARY KEY (package, dim, bucket, artifact, kind, bot, source, value)
) WITHOUT ROWID;
INSERT INTO rollup_day_new SELECT package, bucket, artifact, kind, bot, source, dim, value, requests, downloads
	FROM rollup_day ORDER BY package, dim, bucket, artifact, kind, bot, source, value;
DROP TABLE rollup_day;
ALTER TABLE rollup_day_new RENAME TO rollup_day;
-- Closing a day reads all of its rows, across packages.
CREATE INDEX rollup_day_dim ON rollup_day (dim, bucket);

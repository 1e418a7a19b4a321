-- The day's downloaders, in the order they were first seen. The writer
-- keeps the set of the last days in memory (loaded from here when the
-- store opens) and counts uniques against it, so that this table needs
-- no key: a random key sent every batch's inserts to pages all over
-- its index, and the writer rewrote most of them on every commit once
-- a day had a few million downloaders. Rows only ever append; the index
-- on day grows at its end too, and serves Maintain's deletes.
CREATE TABLE downloader_log (
	day INTEGER NOT NULL,
	key INTEGER NOT NULL
);
INSERT INTO downloader_log (day, key) SELECT day, key FROM downloaders ORDER BY day;
DROP TABLE downloaders;
CREATE INDEX downloader_log_day ON downloader_log (day);

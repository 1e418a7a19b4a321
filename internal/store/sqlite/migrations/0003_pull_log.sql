-- Counted docker pulls, to fold the second GET of each (store.FoldPulls),
-- as an append-only log. The writer keeps the windows in memory (loaded
-- from here when the store opens), as it does the downloaders: keyed by
-- client hash, pull_windows sent every batch's upserts to pages all over
-- its key. A window that changes is logged again; the last row of a
-- (hash, at) is its state.
CREATE TABLE pull_log (
	hash INTEGER NOT NULL,
	at   INTEGER NOT NULL,   -- Unix milliseconds
	type INTEGER NOT NULL,
	used INTEGER NOT NULL
);
INSERT INTO pull_log (hash, at, type, used) SELECT hash, at, type, used FROM pull_windows ORDER BY at;
DROP TABLE pull_windows;
CREATE INDEX pull_log_at ON pull_log (at);

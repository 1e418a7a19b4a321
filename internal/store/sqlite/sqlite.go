// Package sqlite is the embedded analytics store: one SQLite file under
// the data directory, written by the gateway that embeds it. It needs no
// setup and suits a single gateway; replicas share a PostgreSQL store
// instead.
//
// The database runs in WAL mode, so "portico stats" and other readers
// never block the writer. One connection writes, batch by batch, each
// batch in one transaction with multi-row statements; a pool of
// read-only connections answers queries.
package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"

	"portico/internal/event"
	"portico/internal/store"
)

// FileName is the database's name inside the data directory.
const FileName = "portico.db"

// Config configures a Store.
type Config struct {
	// Dir is the data directory; it is created if missing.
	Dir string
	// Retention is how long raw events are kept; 0 keeps them. Rollups
	// are kept regardless.
	Retention time.Duration
	// ReadOnly opens an existing database for reading ("portico stats"):
	// nothing is created or migrated, and writes fail.
	ReadOnly bool
	Logger   *slog.Logger
}

// Store is the SQLite store.
type Store struct {
	cfg   Config
	path  string
	write *sql.DB // one connection
	read  *sql.DB

	// mu serializes Append, whose buffers are reused between batches;
	// the writer has one connection anyway.
	mu sync.Mutex
	// horizon is where the last Maintain put the retention (Unix
	// milliseconds; 0 before the first): older events are not stored,
	// since a late copy of a deleted event could not be recognized.
	horizon atomic.Int64
	recs    []store.Record
	// seen is every downloader of the last days stored in
	// downloader_log: the writer is the database's only one, so it is
	// the whole truth, and uniques are counted against it.
	seen  store.Seen
	added []store.Downloader // by the batch being committed
	// windows is every docker pull window of pull_log, by downloader
	// hash, for the same reason; folded holds the batch's changes until
	// its commit.
	windows map[uint64][]store.PullWindow
	folded  []store.PullWindow
	buf     []byte
	args    []any
	// oldest is the time of the oldest event the batch being committed
	// counted (Unix seconds; 0 when none).
	oldest int64
	// past caches the sums of ended hours and days; nil when read-only.
	past *pastCache
}

var _ store.Store = (*Store)(nil)

//go:embed migrations/*.sql
var migrations embed.FS

// Open opens the database in cfg.Dir, creating it and applying pending
// migrations.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	path := filepath.Join(cfg.Dir, FileName)
	if cfg.ReadOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
	} else if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s := &Store{cfg: cfg, path: path}
	// synchronous(FULL) makes every committed batch survive a power loss:
	// the spool deletes what the store has committed.
	pragmas := "_pragma=busy_timeout(10000)&_journal_mode=WAL&_pragma=synchronous(FULL)&_pragma=foreign_keys(0)"
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + pragmas
	var err error
	// The one writer's page cache is 2 MiB, SQLite's default. A 64 MiB
	// cache measured 6-9% faster ingest of events spread over many
	// packages, but in a gateway under load the cache's resident memory
	// grew by about ten times its size (the allocator's share included):
	// 16 MiB measured a process of 190 MiB, 2 MiB one of 94
	// (docs/scaling.md).
	//
	// A new database gets 32 KiB pages instead of 4 KiB: raw events are
	// most of what a batch writes, and SQLite writes the WAL, and then the
	// checkpoint, a page per system call; with 32 KiB pages, a store that
	// has run for a while took about 1.3x the events per CPU-second. An
	// existing database keeps its page size, which cannot change in WAL
	// mode. The driver runs _pragma settings before _journal_mode, so
	// the page size is set before WAL mode fixes it.
	// The WAL is checkpointed at SQLite's default of 1000 pages: 32 MiB
	// (4 MiB in a database with 4 KiB pages).
	if s.write, err = sql.Open("sqlite", dsn+"&_pragma=cache_size(-2048)&_pragma=page_size(32768)"); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s.write.SetMaxOpenConns(1)
	s.write.SetMaxIdleConns(1)
	s.write.SetConnMaxLifetime(0)
	if s.read, err = sql.Open("sqlite", dsn+"&_pragma=query_only(1)"); err != nil {
		_ = s.write.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s.read.SetMaxOpenConns(4)
	s.read.SetMaxIdleConns(4)
	if !cfg.ReadOnly {
		s.past = newPastCache(pastCacheSums)
	}
	if cfg.ReadOnly {
		_ = s.write.Close()
		s.write = s.read
		err = s.checkSchema(ctx)
	} else if err = s.migrate(ctx); err == nil {
		if err = s.loadDownloaders(ctx); err == nil {
			err = s.loadWindows(ctx)
		}
	}
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// checkSchema makes sure that a database opened read-only has the schema
// this portico knows.
func (s *Store) checkSchema(ctx context.Context) error {
	ms, err := store.ReadMigrations(migrations)
	if err != nil {
		return err
	}
	var current int
	if err := s.read.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return fmt.Errorf("open store %s: %w", s.path, err)
	}
	return store.CheckSchema(s.path, current, len(ms))
}

// Describe implements store.Store.
func (s *Store) Describe() string { return "sqlite " + s.path }

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error { return s.read.PingContext(ctx) }

// Close implements store.Store.
func (s *Store) Close() error {
	if s.write == s.read {
		return s.read.Close()
	}
	return errors.Join(s.write.Close(), s.read.Close())
}

// migrate applies the embedded migrations that the database lacks, all in
// one IMMEDIATE transaction, so that two processes opening the same file
// cannot both apply them.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := store.ReadMigrations(migrations)
	if err != nil {
		return err
	}
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", s.path, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("migrate %s: %w", s.path, err)
	}
	done := false
	defer func() {
		if !done {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate %s: %w", s.path, err)
	}
	if err := store.Migrate(ctx, migrator{conn}, ms, s.path, s.cfg.Logger.With("store", s.Describe())); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("migrate %s: %w", s.path, err)
	}
	done = true
	return nil
}

// migrator applies migrations inside the IMMEDIATE transaction that
// migrate holds on conn, so that they are applied all or none.
type migrator struct{ conn *sql.Conn }

func (m migrator) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := m.conn.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v)
	return v, err
}

func (m migrator) ApplyMigration(ctx context.Context, mg store.Migration) error {
	if _, err := m.conn.ExecContext(ctx, mg.SQL); err != nil {
		return err
	}
	if _, err := m.conn.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
		mg.Version, mg.Name, time.Now().Unix()); err != nil {
		return fmt.Errorf("record: %w", err)
	}
	return nil
}

// Rows per multi-row statement, within SQLite's limit of 32766 parameters.
const (
	eventRows  = 500  // 4 parameters each
	rollupRows = 300  // 10 parameters each
	smallRows  = 1000 // 5 parameters or fewer each
)

// Append implements store.Appender.
func (s *Store) Append(ctx context.Context, batch []event.Event) error {
	if len(batch) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs, s.buf = store.NewRecords(batch, s.recs, s.buf)
	var dropped int
	if s.recs, dropped = store.Unexpired(s.recs, s.horizon.Load()); dropped > 0 {
		s.cfg.Logger.Warn("dropping events older than the retention", "events", dropped, "retention", s.cfg.Retention)
	}
	if len(s.recs) == 0 {
		return nil
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("append events: %w", err)
	}
	defer tx.Rollback() // after Commit, a no-op
	s.added, s.folded, s.oldest = nil, nil, 0
	fresh, err := s.insertEvents(ctx, tx, s.recs)
	if err != nil {
		return fmt.Errorf("append events: %w", err)
	}
	if len(fresh) > 0 {
		if err := s.count(ctx, tx, fresh); err != nil {
			return fmt.Errorf("append events: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("append events: commit: %w", err)
	}
	s.seen.Stored(s.added)
	s.rememberWindows(s.folded)
	// After the commit: see pastCache.
	if s.oldest != 0 && s.past != nil && s.oldest < s.past.sealedUntil() {
		s.past.invalidate()
	}
	return nil
}

// insertEvents stores the raw events and returns the records that were
// not stored before.
func (s *Store) insertEvents(ctx context.Context, tx *sql.Tx, recs []store.Record) ([]store.Record, error) {
	// Live batches are new. INSERT OR IGNORE stores them without the
	// statement journal that a plain INSERT into a table with a unique
	// key needs (or a savepoint to retry it): either copies every page
	// the batch changes to a journal first, which measured a fifth of the
	// raw events' cost. A batch that holds events already stored (a spool
	// replayed after a crash) inserts fewer rows than it has; its fresh
	// events are then the rows after the last one stored before it.
	var last int64
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(seq), 0) FROM events").Scan(&last); err != nil {
		return nil, fmt.Errorf("insert: %w", err)
	}
	m := s.multi(tx, "INSERT OR IGNORE INTO events (id, time, package, data) VALUES ", "(?,?,?,?)", "", eventRows)
	err := m.each(ctx, len(recs), func(args []any, from, to int) []any {
		for i := from; i < to; i++ {
			r := &recs[i]
			args = append(args, r.ID[:], r.Time.UnixMilli(), r.Package, r.Data)
		}
		return args
	}, nil)
	m.close()
	if err != nil {
		return nil, fmt.Errorf("insert: %w", err)
	}
	if m.affected == int64(len(recs)) {
		return recs, nil
	}
	rows, err := tx.QueryContext(ctx, "SELECT id FROM events WHERE seq > ?", last)
	if err != nil {
		return nil, fmt.Errorf("insert: %w", err)
	}
	inserted := make(map[event.ID]bool, m.affected)
	for rows.Next() {
		var id []byte
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("insert: %w", err)
		}
		if len(id) == len(event.ID{}) {
			inserted[event.ID(id)] = true
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("insert: %w", err)
	}
	fresh := make([]store.Record, 0, len(inserted))
	for _, r := range recs {
		if inserted[r.ID] {
			// Once: a batch that holds an event twice counts it once.
			delete(inserted, r.ID)
			fresh = append(fresh, r)
		}
	}
	return fresh, nil
}

// multiStmt runs a multi-row statement in chunks of up to size rows,
// parsing the full-size statement once per batch: SQLite's parser is a
// good part of the cost of a statement with hundreds of rows.
type multiStmt struct {
	s                   *Store
	tx                  *sql.Tx
	prefix, row, suffix string
	size                int
	full                *sql.Stmt
	// affected counts the rows the statements changed, without scan.
	affected int64
}

func (s *Store) multi(tx *sql.Tx, prefix, row, suffix string, size int) *multiStmt {
	return &multiStmt{s: s, tx: tx, prefix: prefix, row: row, suffix: suffix, size: size}
}

func (m *multiStmt) close() {
	if m.full != nil {
		m.full.Close()
		m.full = nil
	}
}

// each runs the statement for rows [0, n): args fills the arguments of
// rows [from, to); scan, when set, reads each row the statement returns.
func (m *multiStmt) each(ctx context.Context, n int, args func(dst []any, from, to int) []any, scan func(*sql.Rows) error) error {
	for from := 0; from < n; from += m.size {
		if from > 0 {
			// Let the request handlers run between chunks: the store's
			// work is never urgent, and on a gateway with one CPU the
			// scheduler would otherwise let a large batch hold it for up
			// to 10 ms at a time, which shows in response latency.
			runtime.Gosched()
		}
		to := min(from+m.size, n)
		a := args(m.s.args[:0], from, to)
		m.s.args = a
		var stmt *sql.Stmt
		if to-from == m.size {
			if m.full == nil {
				st, err := m.tx.PrepareContext(ctx, multiRow(m.prefix, m.row, m.size)+m.suffix)
				if err != nil {
					return err
				}
				m.full = st
			}
			stmt = m.full
		}
		if scan == nil {
			var res sql.Result
			var err error
			if stmt != nil {
				res, err = stmt.ExecContext(ctx, a...)
			} else {
				res, err = m.tx.ExecContext(ctx, multiRow(m.prefix, m.row, to-from)+m.suffix, a...)
			}
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			m.affected += n
			continue
		}
		var rows *sql.Rows
		var err error
		if stmt != nil {
			rows, err = stmt.QueryContext(ctx, a...)
		} else {
			rows, err = m.tx.QueryContext(ctx, multiRow(m.prefix, m.row, to-from)+m.suffix, a...)
		}
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := scan(rows); err != nil {
				rows.Close()
				return err
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// count adds fresh records to the pull windows, rollups and unique
// downloaders.
func (s *Store) count(ctx context.Context, tx *sql.Tx, recs []store.Record) error {
	if err := s.tags(ctx, tx, recs); err != nil {
		return err
	}
	if hashes := store.PullHashes(recs); len(hashes) > 0 {
		// Copies: the remembered windows change only once the batch
		// is committed.
		windows := make(map[uint64][]store.PullWindow, len(hashes))
		for _, h := range hashes {
			if ws := s.windows[h]; len(ws) > 0 {
				windows[h] = slices.Clone(ws)
			}
		}
		s.folded = store.FoldPulls(recs, windows)
		if err := s.logWindows(ctx, tx, s.folded); err != nil {
			return err
		}
	}
	s.oldest = recs[0].Time.Unix()
	for _, r := range recs {
		s.oldest = min(s.oldest, r.Time.Unix())
	}
	if err := s.upsertRollup(ctx, tx, "rollup_hour", store.Rollup(recs, time.Hour)); err != nil {
		return err
	}
	var closedUntil int64
	if err := tx.QueryRowContext(ctx, "SELECT closed_until FROM rollup_state").Scan(&closedUntil); err != nil {
		return fmt.Errorf("read rollup state: %w", err)
	}
	if late := store.Closed(recs, closedUntil); len(late) > 0 {
		days := store.Rollup(late, 24*time.Hour)
		if err := s.upsertRollup(ctx, tx, "rollup_day", days); err != nil {
			return err
		}
		if err := s.upsertRollup(ctx, tx, "rollup_day_all", store.AcrossPackages(days)); err != nil {
			return err
		}
	}
	s.added = s.seen.Unseen(store.Downloaders(recs))
	return s.addDownloaders(ctx, tx, s.added)
}

func (s *Store) upsertRollup(ctx context.Context, tx *sql.Tx, table string, deltas []store.Delta) error {
	m := s.multi(tx, "INSERT INTO "+table+" (package, bucket, artifact, kind, bot, source, dim, value, requests, downloads) VALUES ",
		"(?,?,?,?,?,?,?,?,?,?)",
		` ON CONFLICT (package, bucket, artifact, kind, bot, source, dim, value)
		  DO UPDATE SET requests = requests + excluded.requests, downloads = downloads + excluded.downloads`, rollupRows)
	defer m.close()
	err := m.each(ctx, len(deltas), func(args []any, from, to int) []any {
		for _, d := range deltas[from:to] {
			args = append(args, d.Package, d.Bucket, d.Artifact, d.Kind, d.Bot, d.Source, d.Dim, d.Value, d.Requests, d.Downloads)
		}
		return args
	}, nil)
	if err != nil {
		return fmt.Errorf("update %s: %w", table, err)
	}
	return nil
}

// loadDownloaders fills the writer's set of downloaders from the log.
func (s *Store) loadDownloaders(ctx context.Context) error {
	s.seen.Complete = true
	rows, err := s.write.QueryContext(ctx, "SELECT day, key FROM downloader_log")
	if err != nil {
		return fmt.Errorf("open store %s: load downloaders: %w", s.path, err)
	}
	defer rows.Close()
	chunk := make([]store.Downloader, 0, 4096)
	for rows.Next() {
		var d store.Downloader
		var key int64
		if err := rows.Scan(&d.Day, &key); err != nil {
			return fmt.Errorf("open store %s: load downloaders: %w", s.path, err)
		}
		d.Key = uint64(key)
		if chunk = append(chunk, d); len(chunk) == cap(chunk) {
			s.seen.Stored(chunk)
			chunk = chunk[:0]
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("open store %s: load downloaders: %w", s.path, err)
	}
	s.seen.Stored(chunk)
	return nil
}

// addDownloaders records ds, the batch's downloaders that seen does not
// hold (store.Downloaders lists each once), and counts them in
// uniques_day.
func (s *Store) addDownloaders(ctx context.Context, tx *sql.Tx, ds []store.Downloader) error {
	type key struct {
		day                 int64
		pkg, artifact, kind string
	}
	m := s.multi(tx, "INSERT INTO downloader_log (day, key) VALUES ", "(?,?)", "", smallRows)
	defer m.close()
	err := m.each(ctx, len(ds), func(args []any, from, to int) []any {
		for _, d := range ds[from:to] {
			args = append(args, d.Day, int64(d.Key))
		}
		return args
	}, nil)
	if err != nil {
		return fmt.Errorf("insert downloaders: %w", err)
	}
	added := map[key]int64{}
	for _, d := range ds {
		added[key{d.Day, d.Package, d.Artifact, d.Kind}]++
	}
	if len(added) == 0 {
		return nil
	}
	keys := make([]key, 0, len(added))
	for k := range added {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(strings.Compare(a.pkg, b.pkg), cmp.Compare(a.day, b.day), strings.Compare(a.artifact, b.artifact), strings.Compare(a.kind, b.kind))
	})
	for chunk := range slices.Chunk(keys, smallRows) {
		q := multiRow("INSERT INTO uniques_day (package, day, artifact, kind, downloaders) VALUES ", "(?,?,?,?,?)", len(chunk)) +
			" ON CONFLICT (package, day, artifact, kind) DO UPDATE SET downloaders = downloaders + excluded.downloaders"
		args := s.args[:0]
		for _, k := range chunk {
			args = append(args, k.pkg, k.day, k.artifact, k.kind, added[k])
		}
		s.args = args
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("update uniques_day: %w", err)
		}
	}
	return nil
}

// loadWindows fills the writer's pull windows from the log.
func (s *Store) loadWindows(ctx context.Context) error {
	s.windows = map[uint64][]store.PullWindow{}
	rows, err := s.write.QueryContext(ctx, "SELECT hash, at, type, used FROM pull_log ORDER BY rowid")
	if err != nil {
		return fmt.Errorf("open store %s: load pull windows: %w", s.path, err)
	}
	defer rows.Close()
	var w [1]store.PullWindow
	for rows.Next() {
		var h int64
		if err := rows.Scan(&h, &w[0].At, &w[0].Type, &w[0].Used); err != nil {
			return fmt.Errorf("open store %s: load pull windows: %w", s.path, err)
		}
		w[0].Hash = uint64(h)
		s.rememberWindows(w[:])
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("open store %s: load pull windows: %w", s.path, err)
	}
	return nil
}

// rememberWindows applies windows that are new or changed, as the log's
// last row for each (hash, at) does: a window replaces the one of the same
// client and time.
func (s *Store) rememberWindows(ws []store.PullWindow) {
	for _, w := range ws {
		list := s.windows[w.Hash]
		if i := slices.IndexFunc(list, func(x store.PullWindow) bool { return x.At == w.At }); i >= 0 {
			list[i] = w
			continue
		}
		s.windows[w.Hash] = append(list, w)
	}
}

func (s *Store) logWindows(ctx context.Context, tx *sql.Tx, windows []store.PullWindow) error {
	m := s.multi(tx, "INSERT INTO pull_log (hash, at, type, used) VALUES ", "(?,?,?,?)", "", smallRows)
	defer m.close()
	err := m.each(ctx, len(windows), func(args []any, from, to int) []any {
		for _, w := range windows[from:to] {
			args = append(args, int64(w.Hash), w.At, w.Type, w.Used)
		}
		return args
	}, nil)
	if err != nil {
		return fmt.Errorf("log pull windows: %w", err)
	}
	return nil
}

// tags counts docker pulls by digest under the tag they were resolved
// from, and remembers what this batch says about tags.
func (s *Store) tags(ctx context.Context, tx *sql.Tx, recs []store.Record) error {
	learned := store.TagDigests(recs)
	refs := store.DigestRefs(recs)
	stored := map[store.ImageDigest]string{}
	for chunk := range slices.Chunk(refs, smallRows/2) {
		args := make([]any, 0, 2*len(chunk))
		for _, r := range chunk {
			args = append(args, r.Image, r.Digest)
		}
		q := "SELECT image, digest, tag FROM docker_tags WHERE (image, digest) IN (VALUES " +
			strings.TrimSuffix(strings.Repeat("(?,?),", len(chunk)), ",") + ")"
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("load docker tags: %w", err)
		}
		for rows.Next() {
			var k store.ImageDigest
			var tag string
			if err := rows.Scan(&k.Image, &k.Digest, &tag); err != nil {
				rows.Close()
				return err
			}
			stored[k] = tag
		}
		if err := rows.Close(); err != nil {
			return err
		}
	}
	store.ApplyTags(recs, learned, stored)
	for chunk := range slices.Chunk(learned, smallRows) {
		q := multiRow("INSERT INTO docker_tags (image, digest, tag, at) VALUES ", "(?,?,?,?)", len(chunk)) +
			" ON CONFLICT (image, digest) DO UPDATE SET tag = excluded.tag, at = excluded.at WHERE excluded.at >= at"
		args := make([]any, 0, 4*len(chunk))
		for _, t := range chunk {
			args = append(args, t.Image, t.Digest, t.Tag, t.At)
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("save docker tags: %w", err)
		}
	}
	return nil
}

// multiRow builds "prefix row,row,…" with n rows.
func multiRow(prefix, row string, n int) string {
	var b strings.Builder
	b.Grow(len(prefix) + n*(len(row)+1))
	b.WriteString(prefix)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	return b.String()
}

// Maintain implements store.Store: it deletes raw events past the
// retention, in small transactions so that the writer is never held up
// for long, and the downloader and pull state no longer needed.
func (s *Store) Maintain(ctx context.Context, now time.Time) error {
	if s.cfg.Retention > 0 {
		cutoff := store.Day(now.Add(-s.cfg.Retention)).UnixMilli()
		s.horizon.Store(cutoff)
		// Walk from the oldest stored event, a chunk at a time, deleting
		// the expired ones, until a chunk holds none: events arrive in
		// about time order, so that is where the expired ones end.
		for {
			res, err := s.write.ExecContext(ctx, `DELETE FROM events WHERE seq IN (
				SELECT seq FROM (SELECT seq, time FROM events ORDER BY seq LIMIT 5000) WHERE time < ?)`, cutoff)
			if err != nil {
				return fmt.Errorf("apply retention: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				break
			}
		}
	}
	// Downloaders are needed while events of their day may still arrive.
	if _, err := s.write.ExecContext(ctx, "DELETE FROM downloader_log WHERE day < ?", store.Day(now).Add(-48*time.Hour).Unix()); err != nil {
		return fmt.Errorf("forget downloaders: %w", err)
	}
	if err := s.forgetOldWindows(ctx, now.Add(-store.WindowRetention).UnixMilli()); err != nil {
		return err
	}
	if _, err := s.write.ExecContext(ctx, "DELETE FROM docker_tags WHERE at < ?", now.Add(-store.TagRetention).UnixMilli()); err != nil {
		return fmt.Errorf("forget docker tags: %w", err)
	}
	if err := s.closeDays(ctx, now); err != nil {
		return err
	}
	return s.thinHours(ctx, now)
}

// forgetOldWindows deletes the pull windows older than cutoff (Unix
// milliseconds) from the log and from memory, together, so that a reopened
// store remembers what this one did.
func (s *Store) forgetOldWindows(ctx context.Context, cutoff int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.write.ExecContext(ctx, "DELETE FROM pull_log WHERE at < ?", cutoff); err != nil {
		return fmt.Errorf("forget pull windows: %w", err)
	}
	for h, ws := range s.windows {
		if ws = slices.DeleteFunc(ws, func(w store.PullWindow) bool { return w.At < cutoff }); len(ws) == 0 {
			delete(s.windows, h)
		} else {
			s.windows[h] = ws
		}
	}
	return nil
}

// dimList is store.DimNames as an SQL list: with it, reads of a time
// range use the hourly rollup's (dim, bucket) key and the daily one's
// (dim, bucket) index.
const dimList = "('', 'version', 'client', 'os', 'country', 'org')"

// thinHours deletes the hourly rows of closed days older than
// store.HourRetention, a day per transaction.
func (s *Store) thinHours(ctx context.Context, now time.Time) error {
	for {
		s.mu.Lock()
		var closed, from int64
		err := s.write.QueryRowContext(ctx, "SELECT closed_until, hours_from FROM rollup_state").Scan(&closed, &from)
		before := min(closed, store.Day(now).Add(-store.HourRetention).Unix())
		if err == nil && from < before {
			// Skip to the first day that has rows.
			var first sql.NullInt64
			err = s.write.QueryRowContext(ctx, "SELECT MIN(bucket) FROM rollup_hour WHERE dim = '' AND bucket >= ? AND bucket < ?", from, before).Scan(&first)
			next := before
			if err == nil && first.Valid {
				next = min(before, first.Int64-first.Int64%86400+86400)
				_, err = s.write.ExecContext(ctx, "DELETE FROM rollup_hour WHERE dim IN "+dimList+" AND bucket >= ? AND bucket < ?", from, next)
			}
			if err == nil {
				_, err = s.write.ExecContext(ctx, "UPDATE rollup_state SET hours_from = ?", next)
			}
			from = next
		}
		s.mu.Unlock()
		if err != nil {
			return fmt.Errorf("thin hourly rollup: %w", err)
		}
		if from >= before {
			return nil
		}
	}
}

// closeDays sums the hourly rollup rows of each day that ended more than
// store.CloseGrace ago into daily rows, one day per transaction.
func (s *Store) closeDays(ctx context.Context, now time.Time) error {
	limit := store.Day(now.Add(-store.CloseGrace)).Unix()
	for {
		done, err := s.closeDay(ctx, limit)
		if err != nil {
			return fmt.Errorf("close day: %w", err)
		}
		if done {
			return nil
		}
	}
}

// closeDay closes the first open day before limit, and reports whether
// there was none.
func (s *Store) closeDay(ctx context.Context, limit int64) (bool, error) {
	s.mu.Lock() // appends read closed_until: keep them out meanwhile
	defer s.mu.Unlock()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback() // after Commit, a no-op
	var closed int64
	if err := tx.QueryRowContext(ctx, "SELECT closed_until FROM rollup_state").Scan(&closed); err != nil {
		return false, err
	}
	// The first day with hourly rows that is not closed yet.
	var first sql.NullInt64
	if err := tx.QueryRowContext(ctx, "SELECT MIN(bucket) FROM rollup_hour WHERE dim = '' AND bucket >= ?", closed).Scan(&first); err != nil {
		return false, err
	}
	day := limit
	if first.Valid {
		day = min(limit, first.Int64-first.Int64%86400)
	}
	if day >= limit {
		// Nothing to close: move the mark to the limit, so that queries
		// read even empty days from the daily rollup.
		if closed < limit {
			if _, err := tx.ExecContext(ctx, "UPDATE rollup_state SET closed_until = ?", limit); err != nil {
				return false, err
			}
		}
		return true, tx.Commit()
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO rollup_day (package, bucket, artifact, kind, bot, source, dim, value, requests, downloads)
		SELECT package, ?, artifact, kind, bot, source, dim, value, SUM(requests), SUM(downloads)
		FROM rollup_hour WHERE dim IN `+dimList+` AND bucket >= ? AND bucket < ?
		GROUP BY package, artifact, kind, bot, source, dim, value
		ON CONFLICT (package, bucket, artifact, kind, bot, source, dim, value)
		DO UPDATE SET requests = requests + excluded.requests, downloads = downloads + excluded.downloads`,
		day, day, day+86400); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO rollup_day_all (package, bucket, artifact, kind, bot, source, dim, value, requests, downloads)
		SELECT '', bucket, '', '', bot, '', dim, value, SUM(requests), SUM(downloads)
		FROM rollup_day WHERE dim IN `+dimList+` AND bucket = ?
		GROUP BY bot, dim, value
		ON CONFLICT (package, bucket, artifact, kind, bot, source, dim, value)
		DO UPDATE SET requests = requests + excluded.requests, downloads = downloads + excluded.downloads`, day); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE rollup_state SET closed_until = ?", day+86400); err != nil {
		return false, err
	}
	return false, tx.Commit()
}

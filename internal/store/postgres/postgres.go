// Package postgres is the shared analytics store: one PostgreSQL database
// that every replica of a gateway writes to and reads from.
//
// Each batch is one transaction: the raw events are copied (COPY) into a
// session-local staging table and inserted from there, skipping ids that
// are already stored; the rollups, unique downloaders and docker pull
// windows are then updated incrementally from the events that were new.
// Rows are always locked in one order, so concurrent replicas wait for
// each other but never deadlock, and totals stay exact.
//
// Raw events are partitioned by day; retention drops whole partitions.
// Migrations are embedded and applied on start under an advisory lock, so
// replicas starting together apply each one once.
package postgres

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"portico/internal/event"
	"portico/internal/store"
)

// Config configures a Store.
type Config struct {
	// URL is the database, as postgres://user:password@host:port/db?….
	URL string
	// Retention is how long raw events are kept; 0 keeps them. Rollups
	// are kept regardless.
	Retention time.Duration
	// MaxConns bounds the connection pool; 0 means 8.
	MaxConns int32
	// ReadOnly is for readers ("portico stats", perhaps on a read
	// replica): nothing is created or migrated, the schema must be the
	// one this portico knows.
	ReadOnly bool
	Logger   *slog.Logger
}

// Store is the PostgreSQL store.
type Store struct {
	cfg  Config
	pool *pgxpool.Pool
	desc string

	// migrated is set once the schema is known to be current; until
	// then every call tries to migrate first, so a store that was down
	// when the gateway started is set up when it comes back.
	mu       sync.Mutex
	migrated bool

	partMu     sync.Mutex
	partitions map[int64]bool // days whose partition exists

	// horizon is where the last Maintain put the retention (Unix
	// milliseconds; 0 before the first): older events are not stored.
	horizon atomic.Int64

	seen store.Seen // downloaders already stored

	// scratch holds a batch's records and their JSON between Appends: a
	// batch of 50,000 events needs tens of megabytes, which fresh from
	// the heap cost more to fault in and zero than to encode.
	scratch sync.Pool // of *scratch
}

type scratch struct {
	recs []store.Record
	buf  []byte
}

var (
	_ store.Store     = (*Store)(nil)
	_ store.SaltStore = (*Store)(nil)
)

//go:embed migrations/*.sql
var migrations embed.FS

// Advisory lock keys (the two-integer key space, apart from the bigint
// keys that lock docker pull windows).
const (
	lockClass      = 0x706f7274 // "port"
	lockMigrate    = 1
	lockPartitions = 2
	lockMaintain   = 3
	lockClose      = 4

	// lockClassWindows and windowStripes: pull windows are locked in 64
	// stripes of their hashes.
	lockClassWindows = lockClass + 1
	windowStripes    = 64
)

// uniqueViolation is PostgreSQL's SQLSTATE for a duplicate key.
const uniqueViolation = "23505"

// stagingTable is created in every session: COPY fills it, and it empties
// itself when the transaction ends.
const stagingTable = `CREATE TEMP TABLE IF NOT EXISTS portico_staging (
	id uuid NOT NULL, time timestamptz NOT NULL, package text NOT NULL, data text NOT NULL
) ON COMMIT DELETE ROWS`

// Open returns the store of cfg.URL, ready: connected, and migrated (with
// cfg.ReadOnly, checked to have the schema this portico knows). It has
// the shape of sqlite.Open.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// New returns a store for cfg.URL without connecting, for a gateway that
// must start while the server is away: call Migrate, or let the first
// call do it.
func New(cfg Config) (*Store, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	pc.MaxConns = cfg.MaxConns
	if pc.MaxConns <= 0 {
		pc.MaxConns = 8
	}
	// Buckets and days are UTC days, whatever the server's time zone.
	pc.ConnConfig.RuntimeParams["timezone"] = "UTC"
	pc.ConnConfig.RuntimeParams["application_name"] = "portico"
	pc.ConnConfig.ConnectTimeout = 10 * time.Second
	pc.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, stagingTable)
		return err
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	desc := fmt.Sprintf("postgres %s@%s:%d/%s", pc.ConnConfig.User, pc.ConnConfig.Host, pc.ConnConfig.Port, pc.ConnConfig.Database)
	return &Store{cfg: cfg, pool: pool, desc: desc, partitions: map[int64]bool{}}, nil
}

// Describe implements store.Store. It never shows the password.
func (s *Store) Describe() string { return s.desc }

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Close implements store.Store.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Migrate applies the embedded migrations that the database lacks. It is
// safe to call from several replicas at once: they take turns under an
// advisory lock, and each migration is applied in its own transaction.
func (s *Store) Migrate(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.migrated {
		return nil
	}
	migrate := s.migrate
	if s.cfg.ReadOnly {
		migrate = s.checkSchema
	}
	if err := migrate(ctx); err != nil {
		return err
	}
	s.migrated = true
	return nil
}

// checkSchema makes sure that a database opened read-only has the schema
// this portico knows.
func (s *Store) checkSchema(ctx context.Context) error {
	ms, err := store.ReadMigrations(migrations)
	if err != nil {
		return err
	}
	var current int
	if err := s.pool.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return fmt.Errorf("open store %s (has portico serve run on it?): %w", s.desc, err)
	}
	return store.CheckSchema(s.desc, current, len(ms))
}

func (s *Store) ready(ctx context.Context) error {
	s.mu.Lock()
	done := s.migrated
	s.mu.Unlock()
	if done {
		return nil
	}
	return s.Migrate(ctx)
}

func (s *Store) migrate(ctx context.Context) error {
	ms, err := store.ReadMigrations(migrations)
	if err != nil {
		return err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", s.desc, err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1, $2)", lockClass, lockMigrate); err != nil {
		return fmt.Errorf("migrate %s: lock: %w", s.desc, err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1, $2)", lockClass, lockMigrate)
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate %s: %w", s.desc, err)
	}
	return store.Migrate(ctx, migrator{conn}, ms, s.desc, s.cfg.Logger.With("store", s.desc))
}

// migrator applies migrations on one connection that holds the migration
// lock, each in its own transaction.
type migrator struct{ conn *pgxpool.Conn }

func (m migrator) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := m.conn.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v)
	return v, err
}

func (m migrator) ApplyMigration(ctx context.Context, mg store.Migration) error {
	return pgx.BeginFunc(ctx, m.conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, mg.SQL); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", mg.Version, mg.Name)
		return err
	})
}

// Append implements store.Appender.
//
// The work of a batch is split between this process and the server, and
// each side works while the other does: records are derived and encoded
// while COPY sends the ones before them, and the rollup rows and
// downloaders are summed while the server runs the statements sent
// before them.
func (s *Store) Append(ctx context.Context, batch []event.Event) error {
	if len(batch) == 0 {
		return nil
	}
	if err := s.ready(ctx); err != nil {
		return fmt.Errorf("append events: %w", err)
	}
	sc, _ := s.scratch.Get().(*scratch)
	if sc == nil {
		sc = new(scratch)
	}
	defer s.scratch.Put(sc)
	src := &recordSource{batch: batch, recs: sc.recs[:0], buf: sc.buf[:0]}
	defer func() { sc.recs, sc.buf = src.recs, src.buf }()
	if s.anyExpired(batch) {
		// Rare (a spool replayed after a long outage): derive the records
		// first, to leave the expired ones out.
		src.recs, src.buf = store.NewRecords(batch, src.recs, src.buf)
		src.recs = s.unexpired(src.recs)
		if len(src.recs) == 0 {
			return nil
		}
		src.batch = nil
	}
	if err := s.ensurePartitions(ctx, src.days()); err != nil {
		return fmt.Errorf("append events: %w", err)
	}
	var added []store.Downloader
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		fresh, err := insertEvents(ctx, tx, src)
		if err != nil {
			return err
		}
		if len(fresh) == 0 {
			return nil
		}
		added, err = count(ctx, tx, fresh, &s.seen)
		return err
	})
	if err != nil {
		return fmt.Errorf("append events: %w", err)
	}
	s.seen.Stored(added)
	return nil
}

// anyExpired reports whether an event of batch is older than the
// retention horizon.
func (s *Store) anyExpired(batch []event.Event) bool {
	horizon := s.horizon.Load()
	if horizon == 0 {
		return false
	}
	for i := range batch {
		// As NewRecords: the stored time keeps milliseconds.
		if batch[i].Time.Truncate(time.Millisecond).UnixMilli() < horizon {
			return true
		}
	}
	return false
}

// unexpired drops the records older than the retention horizon: their
// raw events are gone, so a late copy (a spool replayed after a long
// outage) could not be recognized and would be counted twice.
func (s *Store) unexpired(recs []store.Record) []store.Record {
	kept, dropped := store.Unexpired(recs, s.horizon.Load())
	if dropped > 0 {
		s.cfg.Logger.Warn("dropping events older than the retention", "events", dropped, "retention", s.cfg.Retention)
	}
	return kept
}

// recordSource is the rows of a COPY of events: it derives each record
// (and encodes its JSON) as COPY asks for it, so that the server stores
// the first rows while the last are encoded. With batch nil, recs are
// derived already.
type recordSource struct {
	batch []event.Event
	recs  []store.Record
	buf   []byte
	next  int
}

// days are the Unix days of the source's events.
func (rs *recordSource) days() []int64 {
	var days []int64
	add := func(t time.Time) {
		if d := store.Day(t).Unix(); !slices.Contains(days, d) {
			days = append(days, d)
		}
	}
	if rs.batch == nil {
		for i := range rs.recs {
			add(rs.recs[i].Time)
		}
		return days
	}
	for i := range rs.batch {
		add(rs.batch[i].Time.Truncate(time.Millisecond))
	}
	return days
}

// all derives the records COPY has not asked for yet, and returns all.
func (rs *recordSource) all() []store.Record {
	if rs.batch != nil {
		for i := len(rs.recs); i < len(rs.batch); i++ {
			rs.recs, rs.buf = store.AppendRecord(rs.recs, rs.buf, &rs.batch[i])
		}
	}
	return rs.recs
}

func (rs *recordSource) Next() bool {
	n := len(rs.recs)
	if rs.batch != nil {
		n = len(rs.batch)
	}
	if rs.next >= n {
		return false
	}
	if rs.batch != nil && rs.next == len(rs.recs) {
		rs.recs, rs.buf = store.AppendRecord(rs.recs, rs.buf, &rs.batch[rs.next])
		if rs.next == 0 {
			// Room for the batch at once, by the first event and a
			// quarter more: growing by doubling copies a large batch's
			// JSON several times over.
			rs.buf = slices.Grow(rs.buf, len(rs.buf)*(len(rs.batch)-1)*5/4)
		}
	}
	rs.next++
	return true
}

func (rs *recordSource) Values() ([]any, error) {
	r := &rs.recs[rs.next-1]
	return []any{[16]byte(r.ID), r.Time, r.Package, string(r.Data)}, nil
}

func (rs *recordSource) Err() error { return nil }

// insertEvents stores the raw events and returns the records that were
// not stored before. Live batches are new: they are copied straight into
// the events table. A batch that holds an event already stored (a spool
// replayed after a crash) fails that copy; it is then copied into the
// session's staging table and inserted from there, skipping the ids
// already stored.
func insertEvents(ctx context.Context, tx pgx.Tx, src *recordSource) ([]store.Record, error) {
	columns := []string{"id", "time", "package", "data"}
	if _, err := tx.Exec(ctx, "SAVEPOINT direct"); err != nil {
		return nil, fmt.Errorf("copy events: %w", err)
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"events"}, columns, src)
	if err == nil {
		return src.all(), nil
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); !ok || pgErr.Code != uniqueViolation {
		return nil, fmt.Errorf("copy events: %w", err)
	}
	if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT direct"); err != nil {
		return nil, fmt.Errorf("copy events: %w", err)
	}
	recs := src.all()
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"portico_staging"}, columns, &recordSource{recs: recs}); err != nil {
		return nil, fmt.Errorf("copy events: %w", err)
	}
	res, err := tx.Query(ctx, `INSERT INTO events (id, time, package, data)
		SELECT id, time, package, data FROM portico_staging
		ON CONFLICT DO NOTHING RETURNING id`)
	if err != nil {
		return nil, fmt.Errorf("insert events: %w", err)
	}
	inserted := make(map[event.ID]bool, len(recs))
	for res.Next() {
		var id [16]byte
		if err := res.Scan(&id); err != nil {
			res.Close()
			return nil, fmt.Errorf("insert events: %w", err)
		}
		inserted[event.ID(id)] = true
	}
	res.Close()
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("insert events: %w", err)
	}
	fresh := make([]store.Record, 0, len(inserted))
	for _, r := range recs {
		if inserted[r.ID] {
			fresh = append(fresh, r)
		}
	}
	return fresh, nil
}

// count adds fresh records to the pull windows, rollups and unique
// downloaders, locking rows in one global order: docker tags, pull
// windows by hash, then rollup rows by key, then downloaders. The
// statements go in pipelined batches, and what the next batch needs is
// computed while the server runs the one before.
func count(ctx context.Context, tx pgx.Tx, recs []store.Record, seen *store.Seen) ([]store.Downloader, error) {
	learned, err := loadTags(ctx, tx, recs)
	if err != nil {
		return nil, err
	}
	b := &pgx.Batch{}
	if len(learned) > 0 {
		queueTags(b, learned)
	}
	var stored map[uint64][]store.PullWindow
	if hashes := store.PullHashes(recs); len(hashes) > 0 {
		from, to := store.WindowSpan(recs)
		queueLoadWindows(b, hashes, from, to, &stored)
	}
	if b.Len() > 0 {
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return nil, fmt.Errorf("save docker tags, load pull windows: %w", err)
		}
	}
	b = &pgx.Batch{}
	if stored != nil {
		if windows := store.FoldPulls(recs, stored); len(windows) > 0 {
			queueWindows(b, windows)
		}
	}
	var results pgx.BatchResults
	if b.Len() > 0 {
		results = tx.SendBatch(ctx, b)
	}
	hours := store.Rollup(recs, time.Hour)
	if results != nil {
		if err := results.Close(); err != nil {
			return nil, fmt.Errorf("save pull windows: %w", err)
		}
	}

	b = &pgx.Batch{}
	queueRollup(b, "rollup_hour", hours)
	// Closing a day takes this lock exclusively: while an append holds
	// it, closed_until stays where it is read here.
	var closedUntil time.Time
	b.Queue("SELECT closed_until FROM rollup_state, pg_advisory_xact_lock_shared($1, $2)", lockClass, lockClose).
		QueryRow(func(row pgx.Row) error {
			if err := row.Scan(&closedUntil); err != nil {
				return fmt.Errorf("read rollup state: %w", err)
			}
			return nil
		})
	results = tx.SendBatch(ctx, b)
	added := seen.Unseen(store.Downloaders(recs))
	if err := results.Close(); err != nil {
		return nil, fmt.Errorf("update rollup_hour: %w", err)
	}

	b = &pgx.Batch{}
	if late := store.Closed(recs, closedUntil.Unix()); len(late) > 0 {
		days := store.Rollup(late, 24*time.Hour)
		queueRollup(b, "rollup_day", days)
		queueRollup(b, "rollup_day_all", store.AcrossPackages(days))
	}
	if len(added) > 0 {
		queueDownloaders(b, added)
	}
	if b.Len() > 0 {
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return nil, fmt.Errorf("update daily rollups, count downloaders: %w", err)
		}
	}
	return added, nil
}

// loadTags gives docker pulls by digest the tag they were resolved from,
// and returns what this batch says about tags, for queueTags.
func loadTags(ctx context.Context, tx pgx.Tx, recs []store.Record) ([]store.TagDigest, error) {
	learned := store.TagDigests(recs)
	refs := store.DigestRefs(recs)
	stored := map[store.ImageDigest]string{}
	if len(refs) > 0 {
		images, digests := make([]string, len(refs)), make([]string, len(refs))
		for i, r := range refs {
			images[i], digests[i] = r.Image, r.Digest
		}
		rows, err := tx.Query(ctx, `SELECT t.image, t.digest, t.tag FROM docker_tags t
			JOIN unnest($1::text[], $2::text[]) AS r(image, digest) ON t.image = r.image AND t.digest = r.digest`, images, digests)
		if err != nil {
			return nil, fmt.Errorf("load docker tags: %w", err)
		}
		for rows.Next() {
			var k store.ImageDigest
			var tag string
			if err := rows.Scan(&k.Image, &k.Digest, &tag); err != nil {
				rows.Close()
				return nil, fmt.Errorf("load docker tags: %w", err)
			}
			stored[k] = tag
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("load docker tags: %w", err)
		}
	}
	store.ApplyTags(recs, learned, stored)
	return learned, nil
}

// queueTags remembers the digests that tags resolved to.
func queueTags(b *pgx.Batch, learned []store.TagDigest) {
	n := len(learned)
	images, digests, tagNames, ats := make([]string, n), make([]string, n), make([]string, n), make([]int64, n)
	for i, t := range learned {
		images[i], digests[i], tagNames[i], ats[i] = t.Image, t.Digest, t.Tag, t.At
	}
	b.Queue(`INSERT INTO docker_tags (image, digest, tag, at)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[])
		ON CONFLICT (image, digest) DO UPDATE SET tag = excluded.tag, at = excluded.at WHERE excluded.at >= docker_tags.at`,
		images, digests, tagNames, ats)
}

// queueLoadWindows locks the pull windows of hashes and reads them into
// *windows.
func queueLoadWindows(b *pgx.Batch, hashes []uint64, from, to int64, windows *map[uint64][]store.PullWindow) {
	keys := make([]int64, len(hashes))
	var stripes []int32
	for i, h := range hashes {
		keys[i] = int64(h)
		stripes = append(stripes, int32(h%windowStripes))
	}
	slices.Sort(stripes)
	stripes = slices.Compact(stripes)
	// Replicas folding pulls of the same client take turns: each locks
	// the stripes of its hashes (a lock per hash would exhaust the lock
	// table on large batches). The stripes are sorted, and unnest keeps
	// their order, so the locks are taken in one order everywhere.
	b.Queue("SELECT pg_advisory_xact_lock($1, s) FROM unnest($2::int4[]) AS s", lockClassWindows, stripes)
	*windows = make(map[uint64][]store.PullWindow, len(hashes))
	b.Queue("SELECT hash, at, type, used FROM pull_windows WHERE hash = ANY($1) AND at BETWEEN $2 AND $3", keys, from, to).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var h int64
				var typ int16
				var w store.PullWindow
				if err := rows.Scan(&h, &w.At, &typ, &w.Used); err != nil {
					return fmt.Errorf("load pull windows: %w", err)
				}
				w.Hash, w.Type = uint64(h), store.PullType(typ)
				(*windows)[w.Hash] = append((*windows)[w.Hash], w)
			}
			return rows.Err()
		})
}

func queueWindows(b *pgx.Batch, windows []store.PullWindow) {
	n := len(windows)
	hashes, ats, types, used := make([]int64, n), make([]int64, n), make([]int16, n), make([]bool, n)
	for i, w := range windows {
		hashes[i], ats[i], types[i], used[i] = int64(w.Hash), w.At, int16(w.Type), w.Used
	}
	b.Queue(`INSERT INTO pull_windows (hash, at, type, used)
		SELECT * FROM unnest($1::int8[], $2::int8[], $3::int2[], $4::bool[])
		ON CONFLICT (hash, at) DO UPDATE SET type = excluded.type, used = excluded.used`,
		hashes, ats, types, used)
}

func queueRollup(b *pgx.Batch, table string, deltas []store.Delta) {
	n := len(deltas)
	var (
		pkgs, artifacts, kinds, sources, dims, values = make([]string, n), make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n)
		buckets             = make([]time.Time, n)
		bots                = make([]bool, n)
		requests, downloads = make([]int64, n), make([]int64, n)
	)
	for i, d := range deltas {
		pkgs[i], buckets[i], artifacts[i], kinds[i], bots[i] = d.Package, time.Unix(d.Bucket, 0).UTC(), d.Artifact, d.Kind, d.Bot
		sources[i], dims[i], values[i], requests[i], downloads[i] = d.Source, d.Dim, d.Value, d.Requests, d.Downloads
	}
	b.Queue(`INSERT INTO `+table+` (package, bucket, artifact, kind, bot, source, dim, value, requests, downloads)
		SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::bool[], $6::text[], $7::text[],
			$8::text[], $9::int8[], $10::int8[])
		ON CONFLICT (package, bucket, artifact, kind, bot, source, dim, value)
		DO UPDATE SET requests = `+table+`.requests + excluded.requests, downloads = `+table+`.downloads + excluded.downloads`,
		pkgs, buckets, artifacts, kinds, bots, sources, dims, values, requests, downloads)
}

// queueDownloaders records the day's downloaders and counts the new ones.
// Two replicas adding the same downloader at once: the unique index makes
// one wait for the other, and only one insert counts.
func queueDownloaders(b *pgx.Batch, ds []store.Downloader) {
	n := len(ds)
	days, pkgs, artifacts, kinds, keys := make([]time.Time, n), make([]string, n), make([]string, n), make([]string, n), make([]int64, n)
	for i, d := range ds {
		days[i], pkgs[i], artifacts[i], kinds[i], keys[i] = time.Unix(d.Day, 0).UTC(), d.Package, d.Artifact, d.Kind, int64(d.Key)
	}
	// The table holds only day and key; what the new ones count for is
	// joined back from the batch.
	b.Queue(`WITH batch AS (
			SELECT * FROM unnest($1::timestamptz[], $2::int8[], $3::text[], $4::text[], $5::text[]) AS b(day, key, package, artifact, kind)),
		added AS (
			INSERT INTO downloaders (day, key) SELECT day, key FROM batch
			ON CONFLICT (day, key) DO NOTHING
			RETURNING day, key)
		INSERT INTO uniques_day (package, day, artifact, kind, downloaders)
		SELECT b.package, b.day, b.artifact, b.kind, count(*) FROM added a JOIN batch b ON a.day = b.day AND a.key = b.key
		GROUP BY b.package, b.day, b.artifact, b.kind ORDER BY b.package, b.day, b.artifact, b.kind
		ON CONFLICT (package, day, artifact, kind) DO UPDATE SET downloaders = uniques_day.downloaders + excluded.downloaders`,
		days, keys, pkgs, artifacts, kinds)
}

// ensurePartitions creates the daily partitions of days (Unix seconds)
// that do not exist yet.
func (s *Store) ensurePartitions(ctx context.Context, days []int64) error {
	var need []int64
	s.partMu.Lock()
	for _, day := range days {
		if !s.partitions[day] && !slices.Contains(need, day) {
			need = append(need, day)
		}
	}
	s.partMu.Unlock()
	if len(need) == 0 {
		return nil
	}
	if err := s.createPartitions(ctx, need); err != nil {
		return err
	}
	s.partMu.Lock()
	for _, d := range need {
		s.partitions[d] = true
	}
	s.partMu.Unlock()
	return nil
}

// partitionName is the partition of the day that starts at day.
func partitionName(day time.Time) string { return "events_" + day.Format("20060102") }

func (s *Store) createPartitions(ctx context.Context, days []int64) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Replicas creating the same partition take turns.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, $2)", lockClass, lockPartitions); err != nil {
			return fmt.Errorf("lock partitions: %w", err)
		}
		for _, d := range days {
			day := time.Unix(d, 0).UTC()
			q := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s PARTITION OF events FOR VALUES FROM ('%s') TO ('%s')",
				partitionName(day), day.Format(time.RFC3339), day.Add(24*time.Hour).Format(time.RFC3339))
			if _, err := tx.Exec(ctx, q); err != nil {
				return fmt.Errorf("create partition %s: %w", partitionName(day), err)
			}
		}
		return nil
	})
}

// Maintain implements store.Store. One replica at a time does the work;
// the others return at once.
func (s *Store) Maintain(ctx context.Context, now time.Time) error {
	if err := s.ready(ctx); err != nil {
		return fmt.Errorf("maintain: %w", err)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("maintain: %w", err)
	}
	defer conn.Release()
	var got bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, $2)", lockClass, lockMaintain).Scan(&got); err != nil {
		return fmt.Errorf("maintain: %w", err)
	}
	if !got {
		return nil
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1, $2)", lockClass, lockMaintain)
	}()
	// Partitions for today and tomorrow exist before their first event.
	today := store.Day(now)
	if err := s.ensurePartitions(ctx, []int64{today.Unix(), today.Add(24 * time.Hour).Unix()}); err != nil {
		return fmt.Errorf("maintain: %w", err)
	}
	if err := s.closeDays(ctx, now); err != nil {
		return fmt.Errorf("maintain: %w", err)
	}
	if err := s.thinHours(ctx, now); err != nil {
		return fmt.Errorf("maintain: %w", err)
	}
	if s.cfg.Retention > 0 {
		cutoff := store.Day(now.Add(-s.cfg.Retention))
		s.horizon.Store(cutoff.UnixMilli())
		if err := s.dropPartitions(ctx, conn, cutoff); err != nil {
			return fmt.Errorf("maintain: %w", err)
		}
	}
	for _, q := range []struct {
		what, sql string
		arg       any
	}{
		{"forget downloaders", "DELETE FROM downloaders WHERE day < $1", today.Add(-48 * time.Hour)},
		{"forget pull windows", "DELETE FROM pull_windows WHERE at < $1", now.Add(-store.WindowRetention).UnixMilli()},
		{"forget docker tags", "DELETE FROM docker_tags WHERE at < $1", now.Add(-store.TagRetention).UnixMilli()},
		{"delete salts", "DELETE FROM salts WHERE day < $1", now.Add(-24*time.Hour - store.SaltGrace)},
	} {
		if _, err := conn.Exec(ctx, q.sql, q.arg); err != nil {
			return fmt.Errorf("maintain: %s: %w", q.what, err)
		}
	}
	return nil
}

// closeDays sums the hourly rollup rows of each day that ended more than
// store.CloseGrace ago into daily rows, one day per transaction.
func (s *Store) closeDays(ctx context.Context, now time.Time) error {
	limit := store.Day(now.Add(-store.CloseGrace))
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
// there was none. Appends wait for it (they hold the close lock shared),
// so no event can be added to the day's hours while they are summed.
func (s *Store) closeDay(ctx context.Context, limit time.Time) (done bool, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var closed time.Time
		var first *time.Time
		if err := tx.QueryRow(ctx, "SELECT closed_until FROM rollup_state, pg_advisory_xact_lock($1, $2)", lockClass, lockClose).Scan(&closed); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, "SELECT min(bucket) FROM rollup_hour WHERE dim = '' AND bucket >= $1 AND bucket < $2", closed, limit).Scan(&first); err != nil {
			return err
		}
		if first == nil {
			// Nothing to close: move the mark to the limit, so that
			// queries read even empty days from the daily rollup.
			done = true
			if closed.Before(limit) {
				_, err := tx.Exec(ctx, "UPDATE rollup_state SET closed_until = $1", limit)
				return err
			}
			return nil
		}
		day := store.Day(*first)
		if _, err := tx.Exec(ctx, `INSERT INTO rollup_day (package, bucket, artifact, kind, bot, source, dim, value, requests, downloads)
			SELECT package, $1, artifact, kind, bot, source, dim, value, sum(requests), sum(downloads)
			FROM rollup_hour WHERE dim = ANY($3) AND bucket >= $1 AND bucket < $2
			GROUP BY package, artifact, kind, bot, source, dim, value
			ORDER BY package, artifact, kind, bot, source, dim, value
			ON CONFLICT (package, bucket, artifact, kind, bot, source, dim, value)
			DO UPDATE SET requests = rollup_day.requests + excluded.requests, downloads = rollup_day.downloads + excluded.downloads`,
			day, day.Add(24*time.Hour), store.DimNames); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO rollup_day_all (package, bucket, artifact, kind, bot, source, dim, value, requests, downloads)
			SELECT '', bucket, '', '', bot, '', dim, value, sum(requests), sum(downloads)
			FROM rollup_day WHERE dim = ANY($2) AND bucket = $1
			GROUP BY bucket, bot, dim, value
			ORDER BY bot, dim, value
			ON CONFLICT (package, bucket, artifact, kind, bot, source, dim, value)
			DO UPDATE SET requests = rollup_day_all.requests + excluded.requests, downloads = rollup_day_all.downloads + excluded.downloads`,
			day, store.DimNames); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "UPDATE rollup_state SET closed_until = $1", day.Add(24*time.Hour))
		return err
	})
	return done, err
}

// thinHours deletes the hourly rows of closed days older than
// store.HourRetention, a day per transaction.
func (s *Store) thinHours(ctx context.Context, now time.Time) error {
	for {
		var more bool
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var closed, from time.Time
			if err := tx.QueryRow(ctx, "SELECT closed_until, hours_from FROM rollup_state FOR UPDATE").Scan(&closed, &from); err != nil {
				return err
			}
			before := store.Day(now).Add(-store.HourRetention)
			if closed.Before(before) {
				before = closed
			}
			if !from.Before(before) {
				return nil
			}
			var first *time.Time
			if err := tx.QueryRow(ctx, "SELECT min(bucket) FROM rollup_hour WHERE dim = '' AND bucket >= $1 AND bucket < $2", from, before).Scan(&first); err != nil {
				return err
			}
			next := before
			if first != nil {
				if d := store.Day(*first).Add(24 * time.Hour); d.Before(before) {
					next, more = d, true
				}
				if _, err := tx.Exec(ctx, "DELETE FROM rollup_hour WHERE dim = ANY($1) AND bucket >= $2 AND bucket < $3", store.DimNames, from, next); err != nil {
					return err
				}
			}
			_, err := tx.Exec(ctx, "UPDATE rollup_state SET hours_from = $1", next)
			return err
		})
		if err != nil {
			return fmt.Errorf("thin hourly rollup: %w", err)
		}
		if !more {
			return nil
		}
	}
}

// dropPartitions drops the partitions of days before cutoff.
func (s *Store) dropPartitions(ctx context.Context, conn *pgxpool.Conn, cutoff time.Time) error {
	rows, err := conn.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'events'::regclass`)
	if err != nil {
		return fmt.Errorf("list partitions: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("list partitions: %w", err)
	}
	for _, name := range names {
		day, err := time.Parse("20060102", strings.TrimPrefix(name, "events_"))
		if err != nil || !day.Before(cutoff) {
			continue
		}
		if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+pgx.Identifier{name}.Sanitize()); err != nil {
			return fmt.Errorf("drop partition %s: %w", name, err)
		}
		s.partMu.Lock()
		delete(s.partitions, day.Unix())
		s.partMu.Unlock()
		s.cfg.Logger.Info("dropped raw events past the retention", "partition", name)
	}
	return nil
}

// Salt implements store.SaltStore: the replicas share the salt of a day
// through the salts table, whose rows are deleted soon after their day.
func (s *Store) Salt(ctx context.Context, day time.Time) ([]byte, error) {
	day = store.Day(day)
	if time.Since(day) > 24*time.Hour+store.SaltGrace {
		return nil, store.ErrNoSalt
	}
	if err := s.ready(ctx); err != nil {
		return nil, fmt.Errorf("daily salt: %w", err)
	}
	fresh := make([]byte, store.SaltSize)
	_, _ = rand.Read(fresh) // crypto/rand.Read never fails on supported platforms
	var salt []byte
	// On conflict the update is a no-op that returns the stored salt,
	// also when another replica has just inserted it.
	err := s.pool.QueryRow(ctx, `INSERT INTO salts (day, salt) VALUES ($1, $2)
		ON CONFLICT (day) DO UPDATE SET salt = salts.salt RETURNING salt`, day, fresh).Scan(&salt)
	clear(fresh)
	if err != nil {
		return nil, fmt.Errorf("daily salt: %w", err)
	}
	if _, err := s.pool.Exec(ctx, "DELETE FROM salts WHERE day < $1", time.Now().Add(-24*time.Hour-store.SaltGrace)); err != nil {
		return nil, fmt.Errorf("delete old salts: %w", err)
	}
	return salt, nil
}

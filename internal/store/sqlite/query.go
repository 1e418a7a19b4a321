package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"portico/internal/event"
	"portico/internal/store"
)

// Aggregate implements store.Reader. Whole days of the range that are
// closed are read from rollup_day (or rollup_day_all), the rest from
// rollup_hour; what is read of days and hours that have ended goes
// through the cache of past sums (see pastCache), and only the current
// hour is always read from the database.
func (s *Store) Aggregate(ctx context.Context, q store.Query) ([]store.Row, error) {
	now := time.Now()
	// The hours before cut have ended. The cache is told so before the
	// generation is read, and that before the database: an event of an
	// ended hour committed after this read then invalidates what it
	// keeps (see pastCache).
	cut := store.Hour(now).Unix()
	s.past.seal(cut)
	gen := s.past.generation()
	var hoursFrom, closed int64
	if err := s.read.QueryRowContext(ctx, "SELECT hours_from, closed_until FROM rollup_state").Scan(&hoursFrom, &closed); err != nil {
		return nil, fmt.Errorf("aggregate: %w", err)
	}
	span := q.Resolve(now, time.Unix(hoursFrom, 0))
	measure := "downloads"
	if q.Measure == store.Requests {
		measure = "requests"
	}
	plan, err := store.PlanQuery(q)
	if err != nil {
		return nil, err
	}
	key := "''"
	if plan.Group != "" {
		key = plan.Group
	}
	where, condArgs := conditions(plan, q.Bots)
	text := func(table, bucket string) string {
		return "SELECT " + bucket + " AS b, " + key + " AS k, " + measure + " AS v FROM " + table +
			" WHERE bucket >= ? AND bucket < ?" + where
	}
	sums := make(map[bucketKey]int64)
	var live []string
	var liveArgs []any
	// read sums table from from to to, its buckets given by the
	// expression bucket: what has ended through the cache, the rest in
	// one statement at the end.
	var cacheErr error
	read := func(table, bucket string, from, to int64) {
		if from >= to || cacheErr != nil {
			return
		}
		if from < cut && s.past != nil {
			cacheErr = s.pastSums(ctx, gen, text(table, bucket), from, min(to, cut), condArgs, sums)
			from = cut
		}
		if from < to {
			live = append(live, text(table, bucket))
			liveArgs = append(liveArgs, from, to)
			liveArgs = append(liveArgs, condArgs...)
		}
	}
	switch q.Step {
	case store.StepHour:
		read("rollup_hour", "bucket", span.From.Unix(), span.To.Unix())
	default:
		dayBucket, hourBucket := "bucket", "bucket - bucket % 86400"
		if q.Step == store.StepNone {
			dayBucket, hourBucket = "0", "0"
		}
		dayFrom, dayTo := span.DayFrom.Unix(), span.DayTo.Unix()
		if dayFrom < dayTo {
			// Closed days from the daily rollup, the others from the
			// hourly one, which keeps the hours of closed days until
			// they are thinned, long after closed_until passed them:
			// read in several statements, the parts still meet exactly.
			days := "rollup_day"
			if plan.AcrossPackages {
				days = "rollup_day_all"
			}
			read(days, dayBucket, dayFrom, min(dayTo, closed))
			read("rollup_hour", hourBucket, max(dayFrom, closed), dayTo)
			read("rollup_hour", hourBucket, span.From.Unix(), dayFrom)
			read("rollup_hour", hourBucket, dayTo, span.To.Unix())
		} else {
			read("rollup_hour", hourBucket, span.From.Unix(), span.To.Unix())
		}
	}
	if cacheErr != nil {
		return nil, fmt.Errorf("aggregate: %w", cacheErr)
	}
	if len(live) > 0 {
		if err := s.sum(ctx, strings.Join(live, " UNION ALL "), liveArgs, func(b int64, k string, v int64) {
			sums[bucketKey{b, k}] += v
		}); err != nil {
			return nil, fmt.Errorf("aggregate: %w", err)
		}
	}
	return sortedRows(sums, q.Step != store.StepNone, q.Limit), nil
}

// sum runs a query of bucket, key and value rows and hands each to fn.
// The rows are summed by the callers rather than by GROUP BY: SQLite
// groups by sorting, and sorting the hundred thousand rows of a
// breakdown by organization over every package took half of such a
// query; a hash table takes a fraction of that. Each distinct key is
// made a string once.
func (s *Store) sum(ctx context.Context, text string, args []any, fn func(b int64, k string, v int64)) error {
	rows, err := s.read.QueryContext(ctx, text, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	keys := make(map[string]string)
	var b, v int64
	var k sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&b, &k, &v); err != nil {
			return err
		}
		key, ok := keys[string(k)]
		if !ok {
			key = string(k)
			keys[key] = key
		}
		fn(b, key, v)
	}
	return rows.Err()
}

// pastSums adds to sums what text sums over [from, to), a range that has
// ended, from the cache when it can: an answer kept for the same query
// from the same start is used as far as it goes, and the hours after it
// are read and added to it.
func (s *Store) pastSums(ctx context.Context, gen uint64, text string, from, to int64, condArgs []any, sums map[bucketKey]int64) error {
	read := func(from, to int64, into map[bucketKey]int64) error {
		return s.sum(ctx, text, append([]any{from, to}, condArgs...), func(b int64, k string, v int64) { into[bucketKey{b, k}] += v })
	}
	ck, ok := cacheKey(text, append([]any{from}, condArgs...))
	if !ok {
		return read(from, to, sums)
	}
	kept, upTo, found := s.past.get(ck, gen)
	if found && upTo == to {
		for _, e := range kept {
			sums[e.bucketKey] += e.v
		}
		return nil
	}
	part := make(map[bucketKey]int64, len(kept))
	if found && upTo < to {
		for _, e := range kept {
			part[e.bucketKey] += e.v
		}
		from = upTo
	}
	if err := read(from, to, part); err != nil {
		return err
	}
	entries := make([]pastSum, 0, len(part))
	for k, v := range part {
		sums[k] += v
		entries = append(entries, pastSum{k, v})
	}
	s.past.put(ck, gen, to, entries)
	return nil
}

type bucketKey struct {
	bucket int64
	key    string
}

// sortedRows turns sums into rows ordered by bucket, then by value from
// the largest, then by key; it leaves out sums of zero or less and keeps
// the limit largest rows of each bucket (limit 0 keeps all). Buckets are
// Unix seconds, and set on the rows only when withBuckets.
func sortedRows(sums map[bucketKey]int64, withBuckets bool, limit int) []store.Row {
	type sum struct {
		bucketKey
		v int64
	}
	all := make([]sum, 0, len(sums))
	for k, v := range sums {
		if v > 0 {
			all = append(all, sum{k, v})
		}
	}
	slices.SortFunc(all, func(a, b sum) int {
		return cmp.Or(cmp.Compare(a.bucket, b.bucket), cmp.Compare(b.v, a.v), strings.Compare(a.key, b.key))
	})
	out := make([]store.Row, 0, len(all))
	for i, n := 0, 0; i < len(all); i++ {
		if i > 0 && all[i].bucket != all[i-1].bucket {
			n = 0
		}
		if n++; limit > 0 && n > limit {
			continue
		}
		r := store.Row{Key: all[i].key, Value: all[i].v}
		if withBuckets {
			r.Bucket = time.Unix(all[i].bucket, 0).UTC()
		}
		out = append(out, r)
	}
	return out
}

// conditions renders a plan's conditions, each preceded by " AND ".
func conditions(p store.Plan, bots store.Bots) (string, []any) {
	var b strings.Builder
	args := []any{p.Dim}
	b.WriteString(" AND dim = ?")
	if p.Value != nil {
		b.WriteString(" AND value = ?")
		args = append(args, *p.Value)
	}
	for _, c := range p.Columns {
		b.WriteString(" AND " + c.Dim.Column() + " = ?")
		args = append(args, c.Value)
	}
	switch bots {
	case store.BotsExclude:
		b.WriteString(" AND bot = 0")
	case store.BotsOnly:
		b.WriteString(" AND bot = 1")
	}
	return b.String(), args
}

// Uniques implements store.Reader.
func (s *Store) Uniques(ctx context.Context, f store.Filter, step store.Step) ([]store.Row, error) {
	if len(f.Where) > 0 || f.Bots == store.BotsOnly || step == store.StepHour {
		return nil, fmt.Errorf("unique downloaders by %v, per hour or of robots: %w", f.Where, store.ErrUnsupported)
	}
	from, to := uniqueDays(f)
	q := "SELECT day, SUM(downloaders) FROM uniques_day WHERE day >= ? AND day < ?"
	args := []any{from.Unix(), to.Unix()}
	for _, c := range []struct{ col, v string }{{"package", f.Package}, {"artifact", f.Artifact}, {"kind", kindName(f.Kind)}} {
		if c.v != "" {
			q += " AND " + c.col + " = ?"
			args = append(args, c.v)
		}
	}
	q += " GROUP BY day ORDER BY day"
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("unique downloaders: %w", err)
	}
	defer rows.Close()
	var out []store.Row
	var total int64
	for rows.Next() {
		var day, n int64
		if err := rows.Scan(&day, &n); err != nil {
			return nil, fmt.Errorf("unique downloaders: %w", err)
		}
		out = append(out, store.Row{Bucket: time.Unix(day, 0).UTC(), Value: n})
		total += n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("unique downloaders: %w", err)
	}
	if step == store.StepNone {
		if total == 0 {
			return nil, nil
		}
		return []store.Row{{Value: total}}, nil
	}
	return out, nil
}

// uniqueDays returns the days that overlap f's range: unique downloaders
// are counted per whole day.
func uniqueDays(f store.Filter) (from, to time.Time) {
	end := f.To
	if end.IsZero() {
		end = time.Now()
	}
	from = store.Day(f.From)
	to = store.Day(end.Add(-time.Millisecond)).Add(24 * time.Hour)
	if to.Before(from) {
		to = from
	}
	return from, to
}

func kindName(k event.Kind) string {
	if k == event.KindNone {
		return ""
	}
	return k.String()
}

// exportPage is how many rows one export query reads.
const exportPage = 5000

// Export implements store.Exporter. Cursors are "s" and the seq of the
// last row. One writer commits batches in seq order, so no row can
// appear behind a cursor later: a resumed export repeats nothing.
func (s *Store) Export(ctx context.Context, q store.ExportQuery, fn func(store.ExportRow) error) (string, error) {
	var after int64
	if q.After != "" {
		v, err := strconv.ParseInt(strings.TrimPrefix(q.After, "s"), 10, 64)
		if err != nil || !strings.HasPrefix(q.After, "s") || v < 0 {
			return "", fmt.Errorf("export after %q: %w", q.After, store.ErrBadCursor)
		}
		after = v
	}
	cursor := q.After
	left := q.Limit
	for {
		page := exportPage
		if q.Limit > 0 && left < page {
			page = left
		}
		text := "SELECT seq, id, data FROM events WHERE seq > ?"
		args := []any{after}
		if !q.From.IsZero() {
			text += " AND time >= ?"
			args = append(args, q.From.UnixMilli())
		}
		if !q.To.IsZero() {
			text += " AND time < ?"
			args = append(args, q.To.UnixMilli())
		}
		if q.Package != "" {
			text += " AND package = ?"
			args = append(args, q.Package)
		}
		text += " ORDER BY seq LIMIT ?"
		args = append(args, page)
		n, err := s.exportPage(ctx, text, args, func(seq int64, row store.ExportRow) error {
			after = seq
			cursor = "s" + strconv.FormatInt(seq, 10)
			return fn(row)
		})
		if err != nil {
			return cursor, err
		}
		if q.Limit > 0 {
			left -= n
			if left <= 0 {
				return cursor, nil
			}
		}
		if n < page {
			return cursor, nil
		}
	}
}

func (s *Store) exportPage(ctx context.Context, text string, args []any, fn func(int64, store.ExportRow) error) (int, error) {
	rows, err := s.read.QueryContext(ctx, text, args...)
	if err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var seq int64
		var id, data []byte
		if err := rows.Scan(&seq, &id, &data); err != nil {
			return n, fmt.Errorf("export: %w", err)
		}
		if len(id) != len(event.ID{}) {
			return n, fmt.Errorf("export: event at seq %d has a malformed id", seq)
		}
		n++
		if err := fn(seq, store.ExportRow{ID: event.ID(id), Data: data}); err != nil {
			return n, err
		}
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("export: %w", err)
	}
	return n, nil
}

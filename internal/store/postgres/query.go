package postgres

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"portico/internal/event"
	"portico/internal/store"
)

// params collects positional parameters ($1, $2, …).
type params []any

func (p *params) add(v any) string {
	*p = append(*p, v)
	return "$" + strconv.Itoa(len(*p))
}

// Aggregate implements store.Reader. Whole days of the range that are
// closed are read from rollup_day, the rest from rollup_hour.
func (s *Store) Aggregate(ctx context.Context, q store.Query) ([]store.Row, error) {
	if err := s.ready(ctx); err != nil {
		return nil, fmt.Errorf("aggregate: %w", err)
	}
	var hoursFrom time.Time
	if err := s.pool.QueryRow(ctx, "SELECT hours_from FROM rollup_state").Scan(&hoursFrom); err != nil {
		return nil, fmt.Errorf("aggregate: %w", err)
	}
	span := q.Resolve(time.Now(), hoursFrom)
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
	var args params
	var parts []string
	// add reads table for buckets in [lower, upper), two expressions.
	add := func(table, bucket, lower, upper string) {
		where := "bucket >= " + lower + " AND bucket < " + upper
		parts = append(parts, "SELECT "+bucket+" AS b, "+key+" AS k, "+measure+" AS v FROM "+table+" WHERE "+where+conditions(plan, q.Bots, &args))
	}
	hours := func(bucket string, from, to time.Time) {
		if from.Before(to) {
			add("rollup_hour", bucket, args.add(from), args.add(to))
		}
	}
	switch q.Step {
	case store.StepHour:
		hours("bucket", span.From, span.To)
	default:
		dayBucket, hourBucket := "bucket", "date_trunc('day', bucket)"
		if q.Step == store.StepNone {
			dayBucket, hourBucket = "'epoch'::timestamptz", "'epoch'::timestamptz"
		}
		if span.DayFrom.Before(span.DayTo) {
			// Closed days from the daily rollup, the others from the
			// hourly one; the statement reads closed_until in one
			// snapshot, so the two parts meet exactly.
			const closed = "(SELECT closed_until FROM rollup_state)"
			days := "rollup_day"
			if plan.AcrossPackages {
				days = "rollup_day_all"
			}
			add(days, dayBucket, args.add(span.DayFrom), "least("+args.add(span.DayTo)+", "+closed+")")
			add("rollup_hour", hourBucket, "greatest("+args.add(span.DayFrom)+", "+closed+")", args.add(span.DayTo))
			hours(hourBucket, span.From, span.DayFrom)
			hours(hourBucket, span.DayTo, span.To)
		} else {
			hours(hourBucket, span.From, span.To)
		}
	}
	if len(parts) == 0 {
		return nil, nil
	}
	grouped := "SELECT b, k, SUM(v)::bigint AS v FROM (" + strings.Join(parts, " UNION ALL ") + ") u GROUP BY b, k HAVING SUM(v) > 0"
	var text string
	switch {
	case q.Limit <= 0:
		text = grouped + " ORDER BY b, v DESC, k COLLATE \"C\""
	case q.Step == store.StepNone:
		text = grouped + " ORDER BY v DESC, k COLLATE \"C\" LIMIT " + strconv.Itoa(q.Limit)
	default:
		text = "SELECT b, k, v FROM (SELECT b, k, v, row_number() OVER (PARTITION BY b ORDER BY v DESC, k COLLATE \"C\") AS rn FROM (" +
			grouped + ") g) r WHERE rn <= " + strconv.Itoa(q.Limit) + " ORDER BY b, v DESC, k COLLATE \"C\""
	}
	rows, err := s.pool.Query(ctx, text, args...)
	if err != nil {
		return nil, fmt.Errorf("aggregate: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Row, error) {
		var r store.Row
		var b time.Time
		if err := row.Scan(&b, &r.Key, &r.Value); err != nil {
			return r, err
		}
		if q.Step != store.StepNone {
			r.Bucket = b.UTC()
		}
		return r, nil
	})
	if err != nil {
		return nil, fmt.Errorf("aggregate: %w", err)
	}
	return out, nil
}

// conditions renders a plan's conditions, each preceded by " AND ".
func conditions(p store.Plan, bots store.Bots, args *params) string {
	var b strings.Builder
	b.WriteString(" AND dim = " + args.add(p.Dim))
	if p.Value != nil {
		b.WriteString(" AND value = " + args.add(*p.Value))
	}
	for _, c := range p.Columns {
		b.WriteString(" AND " + c.Dim.Column() + " = " + args.add(c.Value))
	}
	switch bots {
	case store.BotsExclude:
		b.WriteString(" AND NOT bot")
	case store.BotsOnly:
		b.WriteString(" AND bot")
	}
	return b.String()
}

// Uniques implements store.Reader.
func (s *Store) Uniques(ctx context.Context, f store.Filter, step store.Step) ([]store.Row, error) {
	if len(f.Where) > 0 || f.Bots == store.BotsOnly || step == store.StepHour {
		return nil, fmt.Errorf("unique downloaders by %v, per hour or of robots: %w", f.Where, store.ErrUnsupported)
	}
	if err := s.ready(ctx); err != nil {
		return nil, fmt.Errorf("unique downloaders: %w", err)
	}
	end := f.To
	if end.IsZero() {
		end = time.Now()
	}
	from := store.Day(f.From)
	to := store.Day(end.Add(-time.Millisecond)).Add(24 * time.Hour)
	var args params
	q := "SELECT day, SUM(downloaders)::bigint FROM uniques_day WHERE day >= " + args.add(from) + " AND day < " + args.add(to)
	kind := ""
	if f.Kind != event.KindNone {
		kind = f.Kind.String()
	}
	for _, c := range []struct{ col, v string }{{"package", f.Package}, {"artifact", f.Artifact}, {"kind", kind}} {
		if c.v != "" {
			q += " AND " + c.col + " = " + args.add(c.v)
		}
	}
	q += " GROUP BY day ORDER BY day"
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("unique downloaders: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Row, error) {
		var r store.Row
		err := row.Scan(&r.Bucket, &r.Value)
		r.Bucket = r.Bucket.UTC()
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("unique downloaders: %w", err)
	}
	if step == store.StepNone {
		var total int64
		for _, r := range out {
			total += r.Value
		}
		if total == 0 {
			return nil, nil
		}
		return []store.Row{{Value: total}}, nil
	}
	return out, nil
}

// exportPage is how many rows one export query reads.
const exportPage = 5000

// Export implements store.Exporter. Rows are ordered by the transaction
// that inserted them, and only rows of transactions older than every
// running one are read: a transaction still running when a page is read
// commits after the cursor, never behind it. So a resumed export repeats
// nothing and skips nothing.
func (s *Store) Export(ctx context.Context, q store.ExportQuery, fn func(store.ExportRow) error) (string, error) {
	if err := s.ready(ctx); err != nil {
		return "", fmt.Errorf("export: %w", err)
	}
	afterXID, afterID, err := parseCursor(q.After)
	if err != nil {
		return "", err
	}
	cursor := q.After
	left := q.Limit
	for {
		page := exportPage
		if q.Limit > 0 && left < page {
			page = left
		}
		var args params
		// The text form of xid is named apart: ORDER BY xid would take it
		// for that output column and order transaction ids as text
		// ("10" before "9"), out of step with the cursor's comparison.
		text := "SELECT xid::text AS xid_text, id, data FROM events WHERE (xid, id) > (" + args.add(strconv.FormatUint(afterXID, 10)) + "::xid8, " +
			args.add(afterID) + "::uuid) AND xid < pg_snapshot_xmin(pg_current_snapshot())"
		if !q.From.IsZero() {
			text += " AND time >= " + args.add(q.From)
		}
		if !q.To.IsZero() {
			text += " AND time < " + args.add(q.To)
		}
		if q.Package != "" {
			text += " AND package = " + args.add(q.Package)
		}
		text += " ORDER BY xid, id LIMIT " + strconv.Itoa(page)
		rows, err := s.pool.Query(ctx, text, args...)
		if err != nil {
			return cursor, fmt.Errorf("export: %w", err)
		}
		n := 0
		var xidText string
		var id [16]byte
		var data string
		_, err = pgx.ForEachRow(rows, []any{&xidText, &id, &data}, func() error {
			xid, err := strconv.ParseUint(xidText, 10, 64)
			if err != nil {
				return fmt.Errorf("export: transaction id %q: %w", xidText, err)
			}
			n++
			afterXID, afterID = xid, id
			cursor = makeCursor(xid, id)
			return fn(store.ExportRow{ID: event.ID(id), Data: []byte(data)})
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

// Cursors are "x" and 24 bytes in hex: the transaction id and the event
// id of the last row.
func makeCursor(xid uint64, id [16]byte) string {
	var b [24]byte
	binary.BigEndian.PutUint64(b[:8], xid)
	copy(b[8:], id[:])
	return "x" + hex.EncodeToString(b[:])
}

func parseCursor(c string) (uint64, [16]byte, error) {
	var id [16]byte
	if c == "" {
		return 0, id, nil
	}
	raw, err := hex.DecodeString(strings.TrimPrefix(c, "x"))
	if !strings.HasPrefix(c, "x") || err != nil || len(raw) != 24 {
		return 0, id, fmt.Errorf("export after %q: %w", c, store.ErrBadCursor)
	}
	copy(id[:], raw[8:])
	return binary.BigEndian.Uint64(raw[:8]), id, nil
}

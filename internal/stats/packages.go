package stats

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"

	"portico/internal/event"
	"portico/internal/store"
)

// Packages builds the report of a set of packages, the sums of each
// package's report: what the API answers for a package or an
// organization, and what the dashboard shows. q's Package is ignored.
//
// Each breakdown is summed over every value of every package, then
// sorted by count (ties by value) and cut to top (all when top is 0), so
// that a value just out of one package's top still counts for the sum.
// Unique downloaders are, as everywhere, downloader-days per package: a
// downloader of two packages on one day counts for each. PerPackage
// holds each package's total, largest first.
func (s *Stats) Packages(ctx context.Context, ids []string, q Query, every Interval, dims []store.Dim, top int) (*Report, error) {
	q = s.resolve(q)
	rep := &Report{From: q.From, To: q.To, Measure: q.Measure.String(), Bots: [...]string{"exclude", "include", "only"}[q.Bots],
		Artifact: q.Artifact, Interval: every.String(), Breakdowns: map[string][]Slice{}}
	if q.Kind != event.KindNone {
		rep.Kind = q.Kind.String()
	}
	if len(ids) == 1 {
		rep.Package = ids[0]
	}
	wantUniques := q.Measure == store.Downloads && q.Bots != store.BotsOnly && len(q.Where) == 0
	var uniques int64
	sums := make([]map[string]int64, len(dims))
	for i := range sums {
		sums[i] = map[string]int64{}
	}
	unavailable := map[store.Dim]bool{}
	rep.Series = fill(nil, q.From, q.To, every)
	totals := map[string]int64{}
	whole := false
	if len(ids) > 1 {
		// One query finds every package with downloads in the range.
		// When they are all among ids, the sums over ids are the sums
		// over the store, which the rollups answer without reading
		// each package: exactly the same numbers, in a few queries.
		rows, err := s.r.Aggregate(ctx, store.Query{Filter: q.Filter, Measure: q.Measure, By: store.DimPackage})
		if err != nil {
			return nil, err
		}
		want := make(map[string]bool, len(ids))
		for _, id := range ids {
			want[id] = true
		}
		whole = true
		for _, r := range rows {
			totals[r.Key] += r.Value
			if r.Value != 0 && !want[r.Key] {
				whole = false
			}
		}
	}
	for _, id := range ids {
		if len(ids) > 1 {
			rep.Total += totals[id]
			rep.PerPackage = append(rep.PerPackage, Slice{Key: id, Value: totals[id]})
		}
	}
	each := ids
	if whole {
		each = []string{""}
	}
	// The queries of each package are independent: they run at once,
	// on as many of the store's connections as it reads with, and are
	// summed in order once all have answered.
	type partial struct {
		total       int64
		series      []Point
		uniques     int64
		rows        [][]store.Row
		unsupported []bool
	}
	parts := make([]partial, len(each))
	var tasks []func(context.Context) error
	for n, id := range each {
		pq := q
		pq.Package = id
		p := &parts[n]
		p.rows, p.unsupported = make([][]store.Row, len(dims)), make([]bool, len(dims))
		if id != "" && len(ids) > 1 && totals[id] == 0 {
			// Nothing to add: the series, uniques and breakdowns of a
			// package without downloads in the range are all zero.
			continue
		}
		if len(ids) == 1 {
			tasks = append(tasks, func(ctx context.Context) (err error) {
				p.total, err = s.Total(ctx, pq)
				return err
			})
		}
		tasks = append(tasks, func(ctx context.Context) (err error) {
			p.series, err = s.Series(ctx, pq, every)
			return err
		})
		if wantUniques {
			tasks = append(tasks, func(ctx context.Context) (err error) {
				p.uniques, _, err = s.Uniques(ctx, pq, Day)
				return err
			})
		}
		for i, d := range dims {
			// One package's top values, or the whole store's, are the
			// top of the sum: the store cuts them. Several packages
			// need every value.
			limit := 0
			if len(each) == 1 {
				limit = top
			}
			tasks = append(tasks, func(ctx context.Context) error {
				rows, err := s.r.Aggregate(ctx, store.Query{Filter: pq.Filter, Measure: pq.Measure, By: d, Limit: limit})
				if errors.Is(err, store.ErrUnsupported) {
					p.unsupported[i] = true
					return nil
				}
				p.rows[i] = rows
				return err
			})
		}
	}
	if err := runAll(ctx, tasks); err != nil {
		return nil, err
	}
	for n, id := range each {
		p := &parts[n]
		if len(ids) == 1 {
			rep.Total += p.total
			rep.PerPackage = append(rep.PerPackage, Slice{Key: id, Value: p.total})
		}
		for i := range p.series {
			rep.Series[i].Value += p.series[i].Value
		}
		uniques += p.uniques
		for i, d := range dims {
			if p.unsupported[i] {
				unavailable[d] = true
			}
			for _, r := range p.rows[i] {
				sums[i][r.Key] += r.Value
			}
		}
	}
	if wantUniques {
		rep.Uniques = &uniques
	}
	for i, d := range dims {
		if unavailable[d] {
			rep.Unavailable = append(rep.Unavailable, d.String())
			continue
		}
		rep.Breakdowns[d.String()] = topSlices(sums[i], rep.Total, top)
		rep.order = append(rep.order, d.String())
	}
	sortSlices(rep.PerPackage)
	return rep, nil
}

// topSlices turns sums into slices with their share of total, largest
// first, ties by key, cut to top (all when top is 0).
func topSlices(sums map[string]int64, total int64, top int) []Slice {
	out := make([]Slice, 0, len(sums))
	for k, v := range sums {
		s := Slice{Key: k, Value: v}
		if total > 0 {
			s.Share = float64(v) / float64(total)
		}
		out = append(out, s)
	}
	sortSlices(out)
	if top > 0 && len(out) > top {
		out = out[:top]
	}
	return out
}

func sortSlices(s []Slice) {
	slices.SortFunc(s, func(a, b Slice) int { return cmp.Or(cmp.Compare(b.Value, a.Value), cmp.Compare(a.Key, b.Key)) })
}

// Order returns the names of the report's breakdowns in the order they
// were asked for.
func (r *Report) Order() []string { return r.order }

// parallel is how many queries of a report run at once: as many as the
// SQLite store's pool of readers has connections.
const parallel = 4

// runAll runs tasks, parallel at a time, and returns the first error; the
// others are then cancelled.
func runAll(ctx context.Context, tasks []func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	sem := make(chan struct{}, parallel)
	for _, task := range tasks {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if ctx.Err() != nil {
				return
			}
			if err := task(ctx); err != nil {
				mu.Lock()
				if first == nil {
					first = err
					cancel()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if first == nil {
		// Cancelled by the caller: every task may have been skipped.
		return ctx.Err()
	}
	return first
}

// Package stats answers the analytics questions that the REST API, the
// dashboard and "portico stats" ask: totals, time series by hour, day,
// week or month, breakdowns by a dimension with top-N, unique
// downloaders, docker pulls, and export of raw events as CSV or NDJSON.
//
// It works on any store.Reader, so the answers are the same on the
// embedded and the shared store. Everything but export reads the
// rollups, so a query's cost depends on the range and the number of
// distinct values, not on the number of events.
package stats

import (
	"context"
	"fmt"
	"time"

	"portico/internal/event"
	"portico/internal/store"
)

// Interval is the step of a time series.
type Interval uint8

// The intervals. Weeks start on Monday; all are UTC.
const (
	Hour Interval = iota + 1
	Day
	Week
	Month
)

var intervalNames = map[Interval]string{Hour: "hour", Day: "day", Week: "week", Month: "month"}

func (i Interval) String() string { return intervalNames[i] }

// ParseInterval reads "hour", "day", "week" or "month".
func ParseInterval(s string) (Interval, error) {
	for i, name := range intervalNames {
		if name == s {
			return i, nil
		}
	}
	return 0, fmt.Errorf("interval %q: want hour, day, week or month", s)
}

// Start returns the start of the interval that contains t.
func (i Interval) Start(t time.Time) time.Time {
	t = t.UTC()
	switch i {
	case Hour:
		return t.Truncate(time.Hour)
	case Week:
		d := store.Day(t)
		return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
	case Month:
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return store.Day(t)
}

// Next returns the start of the interval after the one starting at t.
func (i Interval) Next(t time.Time) time.Time {
	switch i {
	case Hour:
		return t.Add(time.Hour)
	case Week:
		return t.AddDate(0, 0, 7)
	case Month:
		return t.AddDate(0, 1, 0)
	}
	return t.AddDate(0, 0, 1)
}

// A Query selects what to count.
type Query struct {
	store.Filter
	Measure store.Measure
}

// A Point is one bucket of a time series.
type Point struct {
	Time  time.Time `json:"time"`
	Value int64     `json:"value"`
}

// A Slice is one value of a breakdown.
type Slice struct {
	Key   string  `json:"key"`
	Value int64   `json:"value"`
	Share float64 `json:"share"` // of the total over the same filter
}

// Stats answers queries from a store.
type Stats struct {
	r   store.Reader
	now func() time.Time
}

// New returns Stats reading from r.
func New(r store.Reader) *Stats { return &Stats{r: r, now: time.Now} }

// resolve fills the defaults of a query: the range ends now when To is
// zero.
func (s *Stats) resolve(q Query) Query {
	if q.To.IsZero() {
		q.To = store.Hour(s.now()).Add(time.Hour)
	}
	return q
}

// Total counts over the query's range.
func (s *Stats) Total(ctx context.Context, q Query) (int64, error) {
	q = s.resolve(q)
	rows, err := s.r.Aggregate(ctx, store.Query{Filter: q.Filter, Measure: q.Measure})
	if err != nil {
		return 0, err
	}
	var n int64
	for _, r := range rows {
		n += r.Value
	}
	return n, nil
}

// Series counts per interval, with a point (perhaps 0) for every
// interval that overlaps the range.
func (s *Stats) Series(ctx context.Context, q Query, every Interval) ([]Point, error) {
	q = s.resolve(q)
	step := store.StepDay
	if every == Hour {
		step = store.StepHour
	}
	rows, err := s.r.Aggregate(ctx, store.Query{Filter: q.Filter, Measure: q.Measure, Step: step})
	if err != nil {
		return nil, err
	}
	return fill(rows, q.From, q.To, every), nil
}

// fill sums rows into the intervals from the one containing from to the
// one containing the last instant before to.
func fill(rows []store.Row, from, to time.Time, every Interval) []Point {
	var pts []Point
	idx := map[time.Time]int{}
	for t := every.Start(from); t.Before(to); t = every.Next(t) {
		idx[t] = len(pts)
		pts = append(pts, Point{Time: t})
	}
	for _, r := range rows {
		if i, ok := idx[every.Start(r.Bucket)]; ok {
			pts[i].Value += r.Value
		}
	}
	return pts
}

// Breakdown counts by one dimension and returns the limit largest values
// (all when limit is 0), each with its share of the total.
func (s *Stats) Breakdown(ctx context.Context, q Query, by store.Dim, limit int) ([]Slice, error) {
	q = s.resolve(q)
	total, err := s.Total(ctx, q)
	if err != nil {
		return nil, err
	}
	rows, err := s.r.Aggregate(ctx, store.Query{Filter: q.Filter, Measure: q.Measure, By: by, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]Slice, len(rows))
	for i, r := range rows {
		out[i] = Slice{Key: r.Key, Value: r.Value}
		if total > 0 {
			out[i].Share = float64(r.Value) / float64(total)
		}
	}
	return out, nil
}

// A Line is the time series of one value of a dimension.
type Line struct {
	Key    string  `json:"key"`
	Points []Point `json:"points"`
}

// SeriesBy returns a time series for each of the limit largest values of
// a dimension over the range: the data of a stacked chart. It costs two
// queries whatever the limit.
func (s *Stats) SeriesBy(ctx context.Context, q Query, every Interval, by store.Dim, limit int) ([]Line, error) {
	q = s.resolve(q)
	step := store.StepDay
	if every == Hour {
		step = store.StepHour
	}
	var top, rows []store.Row
	if err := runAll(ctx, []func(context.Context) error{
		func(ctx context.Context) (err error) {
			top, err = s.r.Aggregate(ctx, store.Query{Filter: q.Filter, Measure: q.Measure, By: by, Limit: limit})
			return err
		},
		func(ctx context.Context) (err error) {
			rows, err = s.r.Aggregate(ctx, store.Query{Filter: q.Filter, Measure: q.Measure, By: by, Step: step})
			return err
		},
	}); err != nil {
		return nil, err
	}
	byKey := map[string][]store.Row{}
	for _, r := range rows {
		byKey[r.Key] = append(byKey[r.Key], r)
	}
	lines := make([]Line, 0, len(top))
	for _, t := range top {
		lines = append(lines, Line{Key: t.Key, Points: fill(byKey[t.Key], q.From, q.To, every)})
	}
	return lines, nil
}

// Uniques counts unique downloaders. A downloader is identified within
// one day only (the key of the hash changes every day), so the total
// over several days counts downloader-days, and a series per week or
// month sums its days. Only the package, artifact and kind of the query
// apply; robots are never counted.
func (s *Stats) Uniques(ctx context.Context, q Query, every Interval) (int64, []Point, error) {
	q = s.resolve(q)
	if every == Hour {
		return 0, nil, fmt.Errorf("unique downloaders per hour: %w", store.ErrUnsupported)
	}
	rows, err := s.r.Uniques(ctx, q.Filter, store.StepDay)
	if err != nil {
		return 0, nil, err
	}
	var total int64
	for _, r := range rows {
		total += r.Value
	}
	return total, fill(rows, q.From, q.To, every), nil
}

// DockerPulls counts docker pulls as Docker Hub does (see store.FoldPulls).
func (s *Stats) DockerPulls(ctx context.Context, q Query, every Interval) (int64, []Point, error) {
	q.Kind = event.KindDocker
	q.Measure = store.Downloads
	total, err := s.Total(ctx, q)
	if err != nil {
		return 0, nil, err
	}
	pts, err := s.Series(ctx, q, every)
	return total, pts, err
}

package stats

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"portico/internal/event"
	"portico/internal/store"
)

// A Report is the summary "portico stats" shows: the total, unique
// downloaders, a time series and breakdowns. Its JSON form is the output
// of "portico stats --format json".
type Report struct {
	From       time.Time          `json:"from"`
	To         time.Time          `json:"to"`
	Measure    string             `json:"measure"`
	Bots       string             `json:"bots"`
	Package    string             `json:"package,omitempty"`
	Artifact   string             `json:"artifact,omitempty"`
	Kind       string             `json:"kind,omitempty"`
	Total      int64              `json:"total"`
	Uniques    *int64             `json:"unique_downloaders,omitempty"`
	Interval   string             `json:"interval"`
	Series     []Point            `json:"series"`
	Breakdowns map[string][]Slice `json:"breakdowns"`
	// Unavailable lists the breakdowns asked for that --where rules out.
	Unavailable []string `json:"unavailable,omitempty"`
	// PerPackage is each package's total, in reports of several
	// packages (see Packages).
	PerPackage []Slice `json:"packages,omitempty"`
	// order is the breakdowns in the order they were asked for.
	order []string
}

// Report builds the report of q: the total, unique downloaders (for
// downloads of people, when no Where condition applies), the series per
// every, and a breakdown of the top values by each of dims (all values
// when top is 0).
func (s *Stats) Report(ctx context.Context, q Query, every Interval, dims []store.Dim, top int) (*Report, error) {
	rep := &Report{From: q.From, To: q.To, Measure: q.Measure.String(), Bots: [...]string{"exclude", "include", "only"}[q.Bots],
		Package: q.Package, Artifact: q.Artifact, Interval: every.String(), Breakdowns: map[string][]Slice{}}
	if q.Kind != event.KindNone {
		rep.Kind = q.Kind.String()
	}
	var err error
	if rep.Total, err = s.Total(ctx, q); err != nil {
		return nil, err
	}
	if q.Measure == store.Downloads && q.Bots != store.BotsOnly && len(q.Where) == 0 {
		n, _, err := s.Uniques(ctx, q, Day)
		if err != nil {
			return nil, err
		}
		rep.Uniques = &n
	}
	if rep.Series, err = s.Series(ctx, q, every); err != nil {
		return nil, err
	}
	for _, d := range dims {
		sl, err := s.Breakdown(ctx, q, d, top)
		if errors.Is(err, store.ErrUnsupported) {
			// A breakdown by one dimension of events chosen by another:
			// the rollups do not keep the combination.
			rep.Unavailable = append(rep.Unavailable, d.String())
			continue
		}
		if err != nil {
			return nil, err
		}
		rep.Breakdowns[d.String()] = sl
		rep.order = append(rep.order, d.String())
	}
	return rep, nil
}

// WriteText writes the report for people to read.
func (r *Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	what := "Downloads"
	if r.Measure == "requests" {
		what = "Requests"
	}
	subject := "all packages"
	if r.Package != "" {
		subject = "package " + r.Package
	}
	if r.Artifact != "" {
		subject += ", " + r.Artifact
	}
	if r.Kind != "" {
		subject += ", " + r.Kind + " events"
	}
	robots := map[string]string{"exclude": "robots excluded", "include": "robots included", "only": "robots only"}[r.Bots]
	ew.printf("%s of %s, %s to %s UTC, %s\n\n", what, subject, r.From.Format("2006-01-02 15:04"), r.To.Format("2006-01-02 15:04"), robots)
	ew.printf("  %-22s %12s\n", "total", group(r.Total))
	if r.Uniques != nil {
		ew.printf("  %-22s %12s   (downloader-days: each downloader once per day)\n", "unique downloaders", group(*r.Uniques))
	}
	ew.printf("\nPer %s\n", r.Interval)
	layout := "2006-01-02"
	if r.Interval == "hour" {
		layout = "2006-01-02 15:00"
	}
	for _, p := range r.Series {
		ew.printf("  %-22s %12s\n", p.Time.Format(layout), group(p.Value))
	}
	if len(r.Unavailable) > 0 {
		ew.printf("\nNot available with --where on another dimension: by %s\n", strings.Join(r.Unavailable, ", by "))
	}
	for _, name := range r.order {
		ew.printf("\nBy %s\n", name)
		slices := r.Breakdowns[name]
		if len(slices) == 0 {
			ew.printf("  (nothing)\n")
		}
		for _, sl := range slices {
			key := sl.Key
			if key == "" {
				key = "(unknown)"
			}
			ew.printf("  %-22s %12s %6.1f%%\n", key, group(sl.Value), 100*sl.Share)
		}
	}
	return ew.err
}

// WriteCSV writes the report as rows of section, time, key and value.
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"section", "time", "key", "value"})
	_ = cw.Write([]string{"total", "", "", strconv.FormatInt(r.Total, 10)})
	if r.Uniques != nil {
		_ = cw.Write([]string{"unique_downloaders", "", "", strconv.FormatInt(*r.Uniques, 10)})
	}
	for _, p := range r.Series {
		_ = cw.Write([]string{"series", p.Time.Format(time.RFC3339), "", strconv.FormatInt(p.Value, 10)})
	}
	for _, name := range r.order {
		for _, sl := range r.Breakdowns[name] {
			_ = cw.Write([]string{"by_" + name, "", sl.Key, strconv.FormatInt(sl.Value, 10)})
		}
	}
	cw.Flush()
	return cw.Error()
}

// group writes n with thousands separators.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// errWriter keeps the first write error, so that a report is written
// without checking every line.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

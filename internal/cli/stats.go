package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"portico/internal/config"
	"portico/internal/event"
	"portico/internal/stats"
	"portico/internal/store"
	"portico/internal/store/postgres"
	"portico/internal/store/sqlite"
)

const statsUsage = `Usage: portico stats [flags]
       portico stats export [flags]

Shows download analytics from the store that "portico serve" writes: the
total, unique downloaders, a time series and breakdowns. Robots are left
out unless --bots says otherwise. Times are UTC.

"portico stats export" writes the stored events, one per line (ndjson) or
row (csv), each with its id, and prints a cursor to resume from on
standard error.

Flags:
`

// multiFlag collects a repeated flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func runStats(ctx context.Context, env *Env, args []string) int {
	if len(args) > 0 && args[0] == "export" {
		return runExport(ctx, env, args[1:])
	}
	fs := flag.NewFlagSet("portico stats", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	sel := addSelection(fs)
	interval := fs.String("interval", "day", "time series step: hour, day, week or month")
	by := fs.String("by", "version,client,os,country,org,source", "comma-separated `dimensions` to break down by: package, artifact, kind, version, client, os, country, org, source")
	top := fs.Int("top", 10, "rows per breakdown; 0 shows all")
	measure := fs.String("measure", "downloads", "what to count: downloads (by each kind's definition) or requests (every recorded event)")
	bots := fs.String("bots", "exclude", "robots: exclude, include or only")
	var where multiFlag
	fs.Var(&where, "where", "only events whose `dimension=value` (repeatable), e.g. --where country=DE")
	format := fs.String("format", "text", "output: text, json or csv")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), statsUsage)
		fs.PrintDefaults()
	}
	loc := config.StoreLocation{Data: config.DefaultAnalytics().Data}
	if err := loc.Load(fs, args, env.Lookup); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(env.Stderr, "portico stats: %v\n", err)
		return exitUsage
	}
	q, err := sel.query()
	if err == nil {
		q.Bots, err = store.ParseBots(*bots)
	}
	var every stats.Interval
	if err == nil {
		every, err = stats.ParseInterval(*interval)
	}
	if err == nil {
		q.Measure, err = parseMeasure(*measure)
	}
	if err == nil {
		q.Where, err = parseWhere(where)
	}
	var dims []store.Dim
	if err == nil && *by != "" {
		for name := range strings.SplitSeq(*by, ",") {
			d, derr := store.ParseDim(strings.TrimSpace(name))
			if derr != nil {
				err = derr
				break
			}
			dims = append(dims, d)
		}
	}
	if err == nil && *format != "text" && *format != "json" && *format != "csv" {
		err = fmt.Errorf("format %q: want text, json or csv", *format)
	}
	if err == nil && *top < 0 {
		err = errors.New("--top must not be negative")
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "portico stats: %v\n", err)
		return exitUsage
	}
	st, err := openStoreForReading(ctx, loc)
	if err != nil {
		fmt.Fprintf(env.Stderr, "portico stats: %v\n", err)
		return exitFail
	}
	defer st.Close()
	rep, err := buildReport(ctx, stats.New(st), q, every, dims, *top)
	if err != nil {
		fmt.Fprintf(env.Stderr, "portico stats: %v\n", err)
		return exitFail
	}
	switch *format {
	case "json":
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	case "csv":
		err = rep.writeCSV(env.Stdout)
	default:
		err = rep.writeText(env.Stdout)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "portico stats: %v\n", err)
		return exitFail
	}
	return exitOK
}

// selection holds the flags that choose events, shared by stats and
// export.
type selection struct {
	pkg, artifact, kind, from, to *string
	days                          *int
}

func addSelection(fs *flag.FlagSet) *selection {
	return &selection{
		pkg:      fs.String("package", "", "only this package: its package-id, or the rule-id of a docker-v2 rule"),
		artifact: fs.String("artifact", "", "only this artifact: docker image, Python project or npm package"),
		kind:     fs.String("kind", "", "only this kind of event: docker, python, npm, file, telemetry, pixel or scarf-js"),
		from:     fs.String("from", "", "start of the range: a date (2026-11-01) or an RFC 3339 time; default --days before --to"),
		to:       fs.String("to", "", "end of the range (exclusive); default now"),
		days:     fs.Int("days", 30, "length of the range when --from is not given"),
	}
}

func (s *selection) query() (stats.Query, error) {
	var q stats.Query
	q.Package, q.Artifact = *s.pkg, *s.artifact
	if *s.kind != "" {
		k, ok := event.ParseKind(*s.kind)
		if !ok {
			return q, fmt.Errorf("kind %q: want docker, python, npm, file, telemetry, pixel or scarf-js", *s.kind)
		}
		q.Kind = k
	}
	q.To = store.Hour(time.Now()).Add(time.Hour)
	if *s.to != "" {
		t, err := stats.ParseTime(*s.to)
		if err != nil {
			return q, err
		}
		q.To = t
	}
	if *s.days <= 0 {
		return q, errors.New("--days must be positive")
	}
	q.From = q.To.Add(-time.Duration(*s.days) * 24 * time.Hour)
	if *s.from != "" {
		t, err := stats.ParseTime(*s.from)
		if err != nil {
			return q, err
		}
		q.From = t
	}
	if !q.From.Before(q.To) {
		return q, fmt.Errorf("the range is empty: --from %s is not before --to %s", q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	return q, nil
}

func parseMeasure(s string) (store.Measure, error) {
	switch s {
	case "downloads":
		return store.Downloads, nil
	case "requests":
		return store.Requests, nil
	}
	return 0, fmt.Errorf("measure %q: want downloads or requests", s)
}

func parseWhere(conds []string) ([]store.Cond, error) {
	var out []store.Cond
	for _, c := range conds {
		name, value, ok := strings.Cut(c, "=")
		if !ok {
			return nil, fmt.Errorf("--where %q: want dimension=value", c)
		}
		d, err := store.ParseDim(name)
		if err != nil {
			return nil, fmt.Errorf("--where %q: %w", c, err)
		}
		out = append(out, store.Cond{Dim: d, Value: value})
	}
	return out, nil
}

// openStoreForReading opens the store that "serve" writes, without
// creating one.
func openStoreForReading(ctx context.Context, loc config.StoreLocation) (store.Store, error) {
	if loc.Database != "" {
		pg, err := postgres.New(postgres.Config{URL: loc.Database, MaxConns: 4, ReadOnly: true})
		if err != nil {
			return nil, err
		}
		if err := pg.Migrate(ctx); err != nil {
			pg.Close()
			return nil, err
		}
		return pg, nil
	}
	if loc.Data == config.NoStore {
		return nil, errors.New("--data none: there is no store to read")
	}
	st, err := sqlite.Open(ctx, sqlite.Config{Dir: loc.Data, ReadOnly: true})
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no analytics store in %s (run portico serve with --data %s first, or point --data or --database at the store)", loc.Data, loc.Data)
	}
	return st, err
}

// report is what "portico stats" shows.
type report struct {
	From       time.Time                `json:"from"`
	To         time.Time                `json:"to"`
	Measure    string                   `json:"measure"`
	Bots       string                   `json:"bots"`
	Package    string                   `json:"package,omitempty"`
	Artifact   string                   `json:"artifact,omitempty"`
	Kind       string                   `json:"kind,omitempty"`
	Total      int64                    `json:"total"`
	Uniques    *int64                   `json:"unique_downloaders,omitempty"`
	Interval   string                   `json:"interval"`
	Series     []stats.Point            `json:"series"`
	Breakdowns map[string][]stats.Slice `json:"breakdowns"`
	// Unavailable lists the breakdowns asked for that --where rules out.
	Unavailable []string `json:"unavailable,omitempty"`
	order       []string
}

func buildReport(ctx context.Context, s *stats.Stats, q stats.Query, every stats.Interval, dims []store.Dim, top int) (*report, error) {
	rep := &report{From: q.From, To: q.To, Measure: q.Measure.String(), Bots: [...]string{"exclude", "include", "only"}[q.Bots],
		Package: q.Package, Artifact: q.Artifact, Interval: every.String(), Breakdowns: map[string][]stats.Slice{}}
	if q.Kind != event.KindNone {
		rep.Kind = q.Kind.String()
	}
	var err error
	if rep.Total, err = s.Total(ctx, q); err != nil {
		return nil, err
	}
	if q.Measure == store.Downloads && q.Bots != store.BotsOnly && len(q.Where) == 0 {
		n, _, err := s.Uniques(ctx, q, stats.Day)
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

func (r *report) writeText(w io.Writer) error {
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

func (r *report) writeCSV(w io.Writer) error {
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

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

func runExport(ctx context.Context, env *Env, args []string) int {
	fs := flag.NewFlagSet("portico stats export", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	format := fs.String("format", "ndjson", "output: ndjson (events as stored) or csv")
	after := fs.String("after", "", "resume after this `cursor`, printed by the previous export")
	pkg := fs.String("package", "", "only this package")
	from := fs.String("from", "", "only events at or after this date or RFC 3339 time")
	to := fs.String("to", "", "only events before this date or RFC 3339 time")
	limit := fs.Int("limit", 0, "stop after this many events; 0 exports all")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: portico stats export [flags]

Writes the stored events to standard output, oldest first, each with its
id, and prints "cursor: …" on standard error. Pass that cursor as --after
to export only what was stored since: no event is skipped, and an export
that failed part way is repeated from its start (deduplicate by id).

Flags:
`)
		fs.PrintDefaults()
	}
	loc := config.StoreLocation{Data: config.DefaultAnalytics().Data}
	if err := loc.Load(fs, args, env.Lookup); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(env.Stderr, "portico stats export: %v\n", err)
		return exitUsage
	}
	f, err := stats.ParseFormat(*format)
	q := store.ExportQuery{After: *after, Package: *pkg, Limit: *limit}
	if err == nil && *from != "" {
		q.From, err = stats.ParseTime(*from)
	}
	if err == nil && *to != "" {
		q.To, err = stats.ParseTime(*to)
	}
	if err == nil && *limit < 0 {
		err = errors.New("--limit must not be negative")
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "portico stats export: %v\n", err)
		return exitUsage
	}
	st, err := openStoreForReading(ctx, loc)
	if err != nil {
		fmt.Fprintf(env.Stderr, "portico stats export: %v\n", err)
		return exitFail
	}
	defer st.Close()
	next, n, err := stats.Export(ctx, st, env.Stdout, f, q)
	fmt.Fprintf(env.Stderr, "exported %d events\ncursor: %s\n", n, next)
	if err != nil {
		fmt.Fprintf(env.Stderr, "portico stats export: %v\n", err)
		return exitFail
	}
	return exitOK
}

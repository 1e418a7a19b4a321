package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"portico/internal/app"
	"portico/internal/config"
	"portico/internal/event"
	"portico/internal/stats"
	"portico/internal/store"
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
	st, err := app.OpenStore(ctx, loc, app.StoreOptions{ReadOnly: true})
	if err != nil {
		fmt.Fprintf(env.Stderr, "portico stats: %v\n", err)
		return exitFail
	}
	defer st.Close()
	rep, err := stats.New(st).Report(ctx, q, every, dims, *top)
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
		err = rep.WriteCSV(env.Stdout)
	default:
		err = rep.WriteText(env.Stdout)
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
	st, err := app.OpenStore(ctx, loc, app.StoreOptions{ReadOnly: true})
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

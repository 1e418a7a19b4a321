package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"portico/internal/control"
	"portico/internal/stats"
	"portico/internal/store"
)

// defaultRange is the range of a statistics request without from.
const defaultRange = 30 * 24 * time.Hour

// breakdownLimit is how many values a breakdown lists by default.
const breakdownLimit = 20

// statsJSON is the answer of the statistics endpoints.
type statsJSON struct {
	From      string        `json:"from"`
	To        string        `json:"to"`
	Interval  string        `json:"interval"`
	By        string        `json:"by,omitempty"`
	Total     int64         `json:"total"`
	Unique    int64         `json:"unique"`
	Series    []stats.Point `json:"series"`
	Breakdown []stats.Slice `json:"breakdown"`
}

// statsParams are a statistics request's parameters.
type statsParams struct {
	from, to time.Time
	every    stats.Interval
	by       store.Dim
	bots     store.Bots
	limit    int
}

func parseStatsParams(r *http.Request) (statsParams, error) {
	q := r.URL.Query()
	p := statsParams{every: stats.Day, limit: breakdownLimit}
	now := time.Now().UTC()
	p.to = store.Hour(now).Add(time.Hour)
	if s := q.Get("to"); s != "" {
		t, err := stats.ParseTime(s)
		if err != nil {
			return p, badRequest("to", "%v", err)
		}
		p.to = t
	}
	p.from = p.to.Add(-defaultRange)
	if s := q.Get("from"); s != "" {
		t, err := stats.ParseTime(s)
		if err != nil {
			return p, badRequest("from", "%v", err)
		}
		p.from = t
	}
	if !p.from.Before(p.to) {
		return p, badRequest("from", "must be before to")
	}
	if s := q.Get("interval"); s != "" {
		i, err := stats.ParseInterval(s)
		if err != nil {
			return p, badRequest("interval", "%v", err)
		}
		p.every = i
	}
	if p.every == stats.Hour && p.to.Sub(p.from) > 31*24*time.Hour {
		return p, badRequest("interval", "hourly series cover at most 31 days")
	}
	if s := q.Get("by"); s != "" {
		d, err := store.ParseDim(s)
		if err != nil || d == store.DimPackage {
			return p, badRequest("by", "want one of version, client, os, country, org, source, artifact, kind")
		}
		p.by = d
	}
	if s := q.Get("bots"); s != "" {
		b, err := store.ParseBots(s)
		if err != nil {
			return p, badRequest("bots", "%v", err)
		}
		p.bots = b
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > control.MaxLimit {
			return p, badRequest("limit", "must be a number from 1 to %d", control.MaxLimit)
		}
		p.limit = n
	}
	return p, nil
}

// packageStats answers GET /api/v1/packages/{id}/stats.
func (a *API) packageStats(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	pkg, err := a.svc.GetPackage(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	sp, err := parseStatsParams(r)
	if err != nil {
		return err
	}
	if a.stats == nil {
		return noStore()
	}
	out, err := a.report(r.Context(), []string{pkg.ID}, sp)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// orgStats answers GET /api/v1/orgs/{org}/stats: the sums over the
// packages of the organization that the principal may read.
func (a *API) orgStats(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	org := r.PathValue("org")
	if _, err := a.svc.GetOrg(r.Context(), p, org); err != nil {
		return err
	}
	sp, err := parseStatsParams(r)
	if err != nil {
		return err
	}
	if a.stats == nil {
		return noStore()
	}
	var ids []string
	for pg := (control.Page{Limit: control.MaxLimit}); ; {
		pkgs, err := a.svc.ListPackages(r.Context(), p, org, pg)
		if err != nil {
			return err
		}
		for _, pkg := range pkgs {
			ids = append(ids, pkg.ID)
		}
		if len(pkgs) < pg.Limit {
			break
		}
		pg.After = pkgs[len(pkgs)-1].ID
	}
	out, err := a.report(r.Context(), ids, sp)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// report sums the statistics of packages, with the code that the
// dashboard and "portico stats" use.
func (a *API) report(ctx context.Context, packages []string, sp statsParams) (statsJSON, error) {
	out := statsJSON{From: stamp(sp.from), To: stamp(sp.to), Interval: sp.every.String(), Series: []stats.Point{}, Breakdown: []stats.Slice{}}
	var dims []store.Dim
	if sp.by != store.DimNone {
		out.By = sp.by.String()
		dims = []store.Dim{sp.by}
	}
	q := stats.Query{Filter: store.Filter{From: sp.from, To: sp.to, Bots: sp.bots}, Measure: store.Downloads}
	rep, err := a.stats.Packages(ctx, packages, q, sp.every, dims, sp.limit)
	if err != nil {
		return out, err
	}
	out.Total = rep.Total
	if rep.Uniques != nil {
		out.Unique = *rep.Uniques
	}
	out.Series = append(out.Series, rep.Series...)
	if sp.by != store.DimNone {
		out.Breakdown = append(out.Breakdown, rep.Breakdowns[sp.by.String()]...)
	}
	return out, nil
}

func noStore() error {
	return newError(http.StatusServiceUnavailable, "no_store", "", "this gateway runs without an analytics store")
}

// exportPackage answers GET /api/v1/packages/{id}/export: the package's
// raw events as NDJSON or CSV. The cursor to resume from is sent in the
// Portico-Next-Cursor trailer, once every row is out.
func (a *API) exportPackage(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	pkg, err := a.svc.GetPackage(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	format := stats.NDJSON
	if s := q.Get("format"); s != "" {
		if format, err = stats.ParseFormat(s); err != nil {
			return badRequest("format", "%v", err)
		}
	}
	if a.exporter == nil {
		return noStore()
	}
	eq := store.ExportQuery{After: q.Get("after"), Package: pkg.ID}
	if eq.After != "" {
		// A bad cursor is found before anything is written, while an
		// error can still be answered.
		probe := eq
		probe.Limit = 1
		if _, err := a.exporter.Export(r.Context(), probe, func(store.ExportRow) error { return nil }); errors.Is(err, store.ErrBadCursor) {
			return badRequest("after", "is not a cursor this API returned")
		} else if err != nil {
			return err
		}
	}
	ct := "application/x-ndjson"
	if format == stats.CSV {
		ct = "text/csv; charset=utf-8"
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Cache-Control", "no-store")
	h.Set("Trailer", "Portico-Next-Cursor")
	next, _, err := stats.Export(r.Context(), a.exporter, w, format, eq)
	if err != nil {
		a.log.Warn("export failed", "package", pkg.ID, "err", err)
		// Headers are out: the client sees a body without the trailer,
		// and resumes from its last cursor.
		return nil
	}
	h.Set("Portico-Next-Cursor", next)
	return nil
}

package web

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"portico/internal/control"
	"portico/internal/stats"
	"portico/internal/store"
)

// dims are the breakdowns of the analytics pages.
var dims = []store.Dim{store.DimVersion, store.DimClient, store.DimOS, store.DimCountry, store.DimOrg, store.DimSource}

// breakdownTop is how many values each breakdown shows (and the CSV
// holds).
const breakdownTop = 10

// rangeParams are an analytics page's choices, read like the API's
// statistics parameters so that the same query string means the same
// numbers on both.
type rangeParams struct {
	From, To time.Time
	Every    stats.Interval
	Bots     store.Bots
	// FromInput and ToInput are the dates the form shows.
	FromInput, ToInput string
}

func (w *Web) parseRange(r *http.Request) (rangeParams, map[string]string) {
	q := r.URL.Query()
	p := rangeParams{Every: stats.Day}
	errs := map[string]string{}
	p.To = store.Hour(w.now()).Add(time.Hour)
	if s := q.Get("to"); s != "" {
		if t, err := stats.ParseTime(s); err != nil {
			errs["to"] = sentence(err.Error())
		} else {
			p.To = t
		}
	}
	p.From = p.To.Add(-recentDays * 24 * time.Hour)
	if s := q.Get("from"); s != "" {
		if t, err := stats.ParseTime(s); err != nil {
			errs["from"] = sentence(err.Error())
		} else {
			p.From = t
		}
	}
	if !p.From.Before(p.To) {
		errs["from"] = "Must be before the end of the range."
		p.From = p.To.Add(-recentDays * 24 * time.Hour)
	}
	if s := q.Get("interval"); s != "" {
		if i, err := stats.ParseInterval(s); err != nil {
			errs["interval"] = sentence(err.Error())
		} else {
			p.Every = i
		}
	}
	if p.Every == stats.Hour && p.To.Sub(p.From) > 31*24*time.Hour {
		errs["interval"] = "Hourly series cover at most 31 days: choose a shorter range or another interval."
		p.Every = stats.Day
	}
	if s := q.Get("bots"); s != "" {
		if b, err := store.ParseBots(s); err != nil {
			errs["bots"] = sentence(err.Error())
		} else {
			p.Bots = b
		}
	}
	p.FromInput, p.ToInput = inputTime(p.From), inputTime(p.To)
	return p, errs
}

// inputTime writes a time as the range form takes it back: a date when
// it is midnight, else RFC 3339.
func inputTime(t time.Time) string {
	if t.Equal(store.Day(t)) {
		return t.UTC().Format(time.DateOnly)
	}
	return t.UTC().Format(time.RFC3339)
}

// Query returns the range as a query string.
func (p rangeParams) Query() string {
	v := url.Values{"from": {p.FromInput}, "to": {p.ToInput}, "interval": {p.Every.String()}}
	if p.Bots != store.BotsExclude {
		v.Set("bots", [...]string{"exclude", "include", "only"}[p.Bots])
	}
	return v.Encode()
}

// An analyticsSubject is what an analytics page is about.
type analyticsSubject struct {
	Title, Path string
	// Packages are the ids counted, Names their names.
	Packages []string
	Names    map[string]string
	// Docker lists the packages whose downloads are docker pulls.
	Docker map[string]bool
	Org    bool
}

type breakdown struct {
	Dim    string
	Slices []stats.Slice
}

type analyticsData struct {
	Subject     analyticsSubject
	Range       rangeParams
	Intervals   []string
	Report      *stats.Report
	Breakdowns  []breakdown
	DockerPulls int64
	HasDocker   bool
	Unit        string
	CSV         string
	HasStats    bool
}

// report builds what an analytics page shows.
func (w *Web) report(r *http.Request, s analyticsSubject, rp rangeParams) (analyticsData, error) {
	d := analyticsData{Subject: s, Range: rp, Intervals: []string{"hour", "day", "week", "month"}, Unit: "downloads",
		CSV: s.Path + ".csv?" + rp.Query(), HasStats: w.stats != nil}
	if w.stats == nil {
		return d, nil
	}
	rep, err := w.analyticsReport(r.Context(), s.Packages, rp)
	if err != nil {
		return d, err
	}
	d.Report = rep
	for _, name := range rep.Order() {
		d.Breakdowns = append(d.Breakdowns, breakdown{Dim: name, Slices: rep.Breakdowns[name]})
	}
	for _, sl := range rep.PerPackage {
		if s.Docker[sl.Key] {
			d.HasDocker = true
			d.DockerPulls += sl.Value
		}
	}
	if len(s.Packages) == 1 && d.HasDocker {
		d.Unit = "pulls"
	}
	return d, nil
}

// analyticsReport is an analytics page's query: the report of its
// packages over the page's range.
func (w *Web) analyticsReport(ctx context.Context, ids []string, rp rangeParams) (*stats.Report, error) {
	q := stats.Query{Filter: store.Filter{From: rp.From, To: rp.To, Bots: rp.Bots}, Measure: store.Downloads}
	return w.stats.Packages(ctx, ids, q, rp.Every, dims, breakdownTop)
}

func (w *Web) packageSubject(r *http.Request, p control.Principal) (analyticsSubject, error) {
	v, err := w.svc.GetPackage(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return analyticsSubject{}, err
	}
	return analyticsSubject{Title: v.Name, Path: "/packages/" + url.PathEscape(v.ID) + "/analytics", Packages: []string{v.ID},
		Names: map[string]string{v.ID: v.Name}, Docker: map[string]bool{v.ID: strings.HasPrefix(ruleType(v.Rule), "docker-")}}, nil
}

// orgSubject counts the packages of the organization that p may read,
// as the API's organization statistics do.
func (w *Web) orgSubject(r *http.Request, p control.Principal) (analyticsSubject, error) {
	o, err := w.svc.GetOrg(r.Context(), p, r.PathValue("org"))
	if err != nil {
		return analyticsSubject{}, err
	}
	pkgs, err := w.allPackages(r, p, o.Name)
	if err != nil {
		return analyticsSubject{}, err
	}
	s := analyticsSubject{Title: o.Name, Path: "/orgs/" + url.PathEscape(o.Name) + "/analytics", Names: map[string]string{}, Docker: map[string]bool{}, Org: true}
	for _, v := range pkgs {
		s.Packages = append(s.Packages, v.ID)
		s.Names[v.ID] = v.Name
		s.Docker[v.ID] = strings.HasPrefix(ruleType(v.Rule), "docker-")
	}
	return s, nil
}

func (w *Web) packageAnalytics(rw http.ResponseWriter, r *http.Request, p control.Principal) error {
	s, err := w.packageSubject(r, p)
	if err != nil {
		return err
	}
	return w.analyticsPage(rw, r, p, s)
}

func (w *Web) orgAnalytics(rw http.ResponseWriter, r *http.Request, p control.Principal) error {
	s, err := w.orgSubject(r, p)
	if err != nil {
		return err
	}
	return w.analyticsPage(rw, r, p, s)
}

func (w *Web) analyticsPage(rw http.ResponseWriter, r *http.Request, p control.Principal, s analyticsSubject) error {
	rp, errs := w.parseRange(r)
	d, err := w.report(r, s, rp)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if len(errs) > 0 {
		status = http.StatusBadRequest
	}
	nav := "packages"
	if s.Org {
		nav = "orgs"
	}
	w.render(rw, r, status, "analytics", view{Title: "Analytics of " + s.Title, Nav: nav, Me: me(&p), Errors: errs, Data: d})
	return nil
}

func (w *Web) packageAnalyticsCSV(rw http.ResponseWriter, r *http.Request, p control.Principal) error {
	s, err := w.packageSubject(r, p)
	if err != nil {
		return err
	}
	return w.analyticsCSV(rw, r, s)
}

func (w *Web) orgAnalyticsCSV(rw http.ResponseWriter, r *http.Request, p control.Principal) error {
	s, err := w.orgSubject(r, p)
	if err != nil {
		return err
	}
	return w.analyticsCSV(rw, r, s)
}

// analyticsCSV writes what the analytics page shows for the same query
// string, in the CSV form of "portico stats --format csv" (section,
// time, key, value), with the organization's docker pulls and packages
// after it.
func (w *Web) analyticsCSV(rw http.ResponseWriter, r *http.Request, s analyticsSubject) error {
	rp, errs := w.parseRange(r)
	for _, f := range []string{"from", "to", "interval", "bots"} {
		if msg, bad := errs[f]; bad {
			return control.Invalid(f, "%s", msg)
		}
	}
	if w.stats == nil {
		return control.Invalid("", "this gateway runs without an analytics store")
	}
	d, err := w.report(r, s, rp)
	if err != nil {
		return err
	}
	h := rw.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	name := strings.NewReplacer("/", "-", `"`, "", "\\", "").Replace(s.Title)
	h.Set("Content-Disposition", `attachment; filename="`+name+`-`+rp.From.Format("20060102")+`-`+rp.To.Format("20060102")+`.csv"`)
	if err := d.Report.WriteCSV(rw); err != nil {
		return nil // the client went away
	}
	cw := csv.NewWriter(rw)
	if s.Org {
		if d.HasDocker {
			_ = cw.Write([]string{"docker_pulls", "", "", strconv.FormatInt(d.DockerPulls, 10)})
		}
		for _, sl := range d.Report.PerPackage {
			_ = cw.Write([]string{"by_package", "", sl.Key, strconv.FormatInt(sl.Value, 10)})
		}
	}
	cw.Flush()
	return nil
}

package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"portico/internal/control"
	"portico/internal/stats"
	"portico/internal/store"
)

// recentDays is the range of the package list's sparklines and of the
// package page's figures: the API's default range.
const recentDays = 30

// recent returns the API's default range: the 30 days up to the end of
// the current hour.
func (w *Web) recent() (from, to time.Time) {
	to = store.Hour(w.now()).Add(time.Hour)
	return to.Add(-recentDays * 24 * time.Hour), to
}

// allPackages lists every package p may read, in pages of the largest
// size.
func (w *Web) allPackages(r *http.Request, p control.Principal, org string) ([]control.PackageView, error) {
	return w.listAll(r.Context(), p, org)
}

func (w *Web) listAll(ctx context.Context, p control.Principal, org string) ([]control.PackageView, error) {
	var out []control.PackageView
	for pg := (control.Page{Limit: control.MaxLimit}); ; {
		pkgs, err := w.svc.ListPackages(ctx, p, org, pg)
		if err != nil {
			return nil, err
		}
		out = append(out, pkgs...)
		// The manifest's packages come after the store's first page:
		// the last one read is the store's, for the next cursor.
		stored := 0
		for _, v := range pkgs {
			if !v.ReadOnly {
				stored++
			}
		}
		if stored < pg.Limit {
			return out, nil
		}
		last := ""
		for _, v := range pkgs {
			if !v.ReadOnly {
				last = v.ID
			}
		}
		pg.After = last
	}
}

type packageRow struct {
	Pkg   control.PackageView
	Kind  string
	Total int64
	Spark []stats.Point
}

type packageListData struct {
	Rows     []packageRow
	CanAdd   bool
	HasStats bool
}

// listSeries is the package list's query: each package's downloads per
// day over the last 30 days.
func (w *Web) listSeries(ctx context.Context) ([]stats.Line, error) {
	from, to := w.recent()
	return w.stats.SeriesBy(ctx, stats.Query{Filter: store.Filter{From: from, To: to}, Measure: store.Downloads}, stats.Day, store.DimPackage, 0)
}

// packageSummary is the package page's query: the package's downloads
// of the last 30 days, per day, and its unique downloaders.
func (w *Web) packageSummary(ctx context.Context, id string) (from, to time.Time, rep *stats.Report, err error) {
	from, to = w.recent()
	rep, err = w.stats.Packages(ctx, []string{id}, stats.Query{Filter: store.Filter{From: from, To: to}, Measure: store.Downloads}, stats.Day, nil, 0)
	return from, to, rep, err
}

// listPackages shows the packages with their downloads of the last 30
// days: two queries of the rollups for all of them.
func (w *Web) listPackages(rw http.ResponseWriter, r *http.Request, p control.Principal) error {
	pkgs, err := w.allPackages(r, p, "")
	if err != nil {
		return err
	}
	lines := map[string][]stats.Point{}
	if w.stats != nil && len(pkgs) > 0 {
		ls, err := w.listSeries(r.Context())
		if err != nil {
			return err
		}
		for _, l := range ls {
			lines[l.Key] = l.Points
		}
	}
	d := packageListData{HasStats: w.stats != nil}
	for _, v := range pkgs {
		row := packageRow{Pkg: v, Kind: kindOf(ruleType(v.Rule)).Title, Spark: lines[v.ID]}
		if row.Spark == nil && w.stats != nil {
			from, to := w.recent()
			row.Spark = zeroSeries(from, to)
		}
		for _, pt := range row.Spark {
			row.Total += pt.Value
		}
		d.Rows = append(d.Rows, row)
	}
	orgs, err := w.editableOrgs(r, p)
	if err != nil {
		return err
	}
	d.CanAdd = len(orgs) > 0
	w.render(rw, r, http.StatusOK, "packages", view{Title: "Packages", Nav: "packages", Me: me(&p), Notice: notice(r), Data: d})
	return nil
}

// zeroSeries is a daily series of zeros over [from, to).
func zeroSeries(from, to time.Time) []stats.Point {
	var pts []stats.Point
	for t := stats.Day.Start(from); t.Before(to); t = stats.Day.Next(t) {
		pts = append(pts, stats.Point{Time: t})
	}
	return pts
}

// editableOrgs returns the organizations whose packages p may create.
func (w *Web) editableOrgs(r *http.Request, p control.Principal) ([]control.OrgView, error) {
	orgs, err := w.svc.ListOrgs(r.Context(), p, control.Page{Limit: control.MaxLimit})
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(orgs, func(o control.OrgView) bool { return !o.Access(p).CanEdit() }), nil
}

type memberRow struct {
	control.Member
	Self      bool
	Grantable []control.Role
	CanRemove bool
}

// members adds to each member what the principal may change of it.
func members(ms []control.Member, a control.Access, p control.Principal) []memberRow {
	out := make([]memberRow, 0, len(ms))
	for _, m := range ms {
		self := m.UserID == p.User.ID
		out = append(out, memberRow{Member: m, Self: self, Grantable: a.Grantable(self, m.Role), CanRemove: a.CanRemove(self, m.Role)})
	}
	return out
}

type badgeSnippet struct {
	Name, Alt, URL, Markdown, HTML string
}

type field struct {
	Key, Value string
}

type packagePageData struct {
	Pkg       control.PackageView
	Kind      ruleKind
	Command   string
	Backend   []field
	Rule      string
	Editable  bool
	Grantable []control.Role
	Members   []memberRow
	Badges    []badgeSnippet
	ShowBadge bool
	HasStats  bool
	Total     int64
	Unique    int64
	Series    []stats.Point
	Unit      string
	From, To  time.Time
}

// packagePage shows a package: its install command, configuration,
// badges, members and recent downloads, which update live.
func (w *Web) packagePage(rw http.ResponseWriter, r *http.Request, p control.Principal) error {
	v, err := w.svc.GetPackage(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	typ := ruleType(v.Rule)
	rule := ruleMap(v.Rule)
	d := packagePageData{Pkg: v, Kind: kindOf(typ), Command: installCommand(typ, rule), Editable: v.Editable(p),
		ShowBadge: w.badges, HasStats: w.stats != nil, Unit: unitOf(typ)}
	for _, k := range sortedKeys(rule) {
		if k == "type" || k == "domain" {
			continue
		}
		d.Backend = append(d.Backend, field{Key: k, Value: scalar(rule[k])})
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, v.Rule, "", "  ") == nil {
		d.Rule = pretty.String()
	}
	a := v.Access(p)
	if !v.ReadOnly {
		ms, err := w.svc.PackageMembers(r.Context(), p, v.ID, control.Page{Limit: control.MaxLimit})
		if err != nil {
			return err
		}
		d.Members = members(ms, a, p)
		d.Grantable = a.Grantable(false, control.RoleNone)
	}
	base := w.baseURL(r)
	for _, b := range []struct{ name, path, alt string }{
		{"Installs", "/package/installs-badge/", "installs"},
		{"Companies", "/package/company-badge/", "companies using it"},
	} {
		u := base + b.path + url.PathEscape(v.ID)
		d.Badges = append(d.Badges, badgeSnippet{Name: b.name, Alt: b.alt, URL: u,
			Markdown: "![" + b.alt + "](" + u + ")",
			HTML:     `<img src="` + u + `" alt="` + b.alt + `">`})
	}
	if w.stats != nil {
		var rep *stats.Report
		d.From, d.To, rep, err = w.packageSummary(r.Context(), v.ID)
		if err != nil {
			return err
		}
		d.Total, d.Series = rep.Total, rep.Series
		if rep.Uniques != nil {
			d.Unique = *rep.Uniques
		}
	}
	w.render(rw, r, http.StatusOK, "package", view{Title: v.Name, Nav: "packages", Me: me(&p), Notice: notice(r), Data: d})
	return nil
}

// baseURL is where users reach this listener.
func (w *Web) baseURL(r *http.Request) string {
	if w.public != "" {
		return w.public
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// live answers the package page's poll: the downloads of the last 30
// days, from the rollups.
func (w *Web) live(rw http.ResponseWriter, r *http.Request, p control.Principal) error {
	v, err := w.svc.GetPackage(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if w.stats == nil {
		http.Error(rw, "no analytics store", http.StatusServiceUnavailable)
		return nil
	}
	from, to := w.recent()
	q := stats.Query{Filter: store.Filter{From: from, To: to, Package: v.ID}, Measure: store.Downloads}
	total, err := w.stats.Total(r.Context(), q)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(struct {
		Total int64  `json:"total"`
		Text  string `json:"text"`
		At    string `json:"at"`
	}{total, group(total), w.now().UTC().Format(time.RFC3339)})
	h := rw.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	_, _ = rw.Write(b)
	return nil
}

// setPackageMember gives a member a role on the package, or takes it
// away (role "none").
func (w *Web) setPackageMember(rw http.ResponseWriter, r *http.Request, p control.Principal) error {
	id := r.PathValue("id")
	role, err := formRole(r)
	if err != nil {
		return err
	}
	email := r.PostFormValue("email")
	if _, err := w.svc.SetPackageMember(r.Context(), p, id, email, role); err != nil {
		return err
	}
	seeOther(rw, r, "/packages/"+url.PathEscape(id)+"#members", memberNotice(email, role))
	return nil
}

func formRole(r *http.Request) (control.Role, error) {
	s := r.PostFormValue("role")
	if s == "none" {
		return control.RoleNone, nil
	}
	role, err := control.ParseRole(s)
	if err != nil {
		return 0, control.Invalid("role", "%v", err)
	}
	return role, nil
}

func memberNotice(email string, role control.Role) string {
	if role == control.RoleNone {
		return email + " was removed."
	}
	return email + " is now " + role.String() + "."
}

func (w *Web) deletePackage(rw http.ResponseWriter, r *http.Request, p control.Principal) error {
	v, err := w.svc.GetPackage(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := w.svc.DeletePackage(r.Context(), p, v.ID); err != nil {
		return err
	}
	seeOther(rw, r, "/packages", "Package "+v.Name+" was deleted.")
	return nil
}

// ruleType returns a stored rule's type.
func ruleType(raw json.RawMessage) string {
	var t struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(raw, &t)
	return t.Type
}

// ruleMap decodes a stored rule.
func ruleMap(raw json.RawMessage) map[string]any {
	m := map[string]any{}
	_ = json.Unmarshal(raw, &m)
	return m
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// scalar shows a rule value: strings as they are, anything else as
// JSON.
func scalar(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// unitOf names what a package's downloads are.
func unitOf(typ string) string {
	if strings.HasPrefix(typ, "docker-") {
		return "pulls"
	}
	return "downloads"
}

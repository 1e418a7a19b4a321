package web

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"portico/internal/app/api"
	"portico/internal/control"
	"portico/internal/event"
	"portico/internal/route"
	"portico/internal/stats"
	"portico/internal/store/sqlite"
)

const password = "correct horse battery staple"

// env is the dashboard over a real SQLite store, beside the API, served
// by a real HTTP server.
type env struct {
	t   *testing.T
	srv *httptest.Server
	svc *control.Service
	st  *sqlite.Store
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := control.New(control.Config{Store: st, Rules: &route.Checker{}, BaseDomain: "gw.test"})
	a := api.New(api.Config{Service: svc, Stats: stats.New(st), Exporter: st})
	w, err := New(Config{Service: svc, Sessions: a, Stats: stats.New(st)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", a)
	mux.Handle("/", w)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, svc: svc, st: st}
}

// user creates a user with a password; its personal organization is
// returned.
func (e *env) user(email string) (control.User, string) {
	e.t.Helper()
	u, o, err := e.svc.CreateUser(context.Background(), control.Operator, control.NewUser{Email: email, Password: password})
	if err != nil {
		e.t.Fatal(err)
	}
	return u, o.Name
}

// browser is a client with a cookie jar that signs in through the form.
type browser struct {
	e *env
	c *http.Client
}

func (e *env) signIn(email string) *browser {
	e.t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &browser{e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	st, _, hdr := b.post("/signin", url.Values{"email": {email}, "password": {password}})
	if st != http.StatusSeeOther || hdr.Get("Location") != "/packages" {
		e.t.Fatalf("sign-in answered %d to %q", st, hdr.Get("Location"))
	}
	return b
}

// do sends a request as a browser on the same site would.
func (b *browser) do(method, path string, form url.Values, hdr ...string) (int, string, http.Header) {
	b.e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.e.srv.URL+path, body)
	if err != nil {
		b.e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.e.srv.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.e.t.Fatal(err)
	}
	return resp.StatusCode, string(data), resp.Header
}

func (b *browser) get(path string) (int, string) {
	st, body, _ := b.do("GET", path, nil)
	return st, body
}

func (b *browser) post(path string, form url.Values, hdr ...string) (int, string, http.Header) {
	return b.do("POST", path, form, hdr...)
}

// fileForm is the form of a file package on host.
func fileForm(org, name, host, path string) url.Values {
	return url.Values{"kind": {"file"}, "org": {org}, "name": {name}, "rule.domain": {host},
		"rule.incoming-path": {path}, "rule.outgoing-url": {"https://cdn.test/{version}.tar.gz"}}
}

// createdID returns the package id a create's redirect names.
func createdID(t *testing.T, st int, hdr http.Header, body string) string {
	t.Helper()
	m := regexp.MustCompile(`^/packages/([0-9a-f-]{36})\?`).FindStringSubmatch(hdr.Get("Location"))
	if st != http.StatusSeeOther || m == nil {
		t.Fatalf("create answered %d %q:\n%s", st, hdr.Get("Location"), body)
	}
	return m[1]
}

// TestSignIn: pages send strangers to the sign-in form and back, a wrong
// password is the API's message, and signing out ends the session.
func TestSignIn(t *testing.T) {
	e := newEnv(t)
	e.user("ann@acme.test")
	jar, _ := cookiejar.New(nil)
	anon := &browser{e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if st, _, hdr := anon.do("GET", "/domains", nil); st != http.StatusSeeOther || hdr.Get("Location") != "/signin?next=%2Fdomains" {
		t.Errorf("a stranger asking for /domains: %d %q", st, hdr.Get("Location"))
	}
	st, body, _ := anon.post("/signin", url.Values{"email": {"ann@acme.test"}, "password": {"wrong"}})
	if st != http.StatusUnauthorized || !strings.Contains(body, `class="problem"`) || !strings.Contains(body, `value="ann@acme.test"`) {
		t.Errorf("a wrong password: %d, want 401 with the message and the address kept:\n%s", st, body)
	}
	st, _, hdr := anon.post("/signin", url.Values{"email": {"ann@acme.test"}, "password": {password}, "next": {"//evil.test/x"}})
	if st != http.StatusSeeOther || hdr.Get("Location") != "/packages" {
		t.Errorf("sign-in with another site as next went to %q (%d), want /packages", hdr.Get("Location"), st)
	}
	if st, body := anon.get("/packages"); st != http.StatusOK || !strings.Contains(body, "ann@acme.test") {
		t.Fatalf("signed in, /packages = %d", st)
	}
	// The API takes the same session.
	if st, _ := anon.get("/api/v1/me"); st != http.StatusOK {
		t.Errorf("the API with the dashboard's session: %d", st)
	}
	if st, _, _ := anon.post("/signout", url.Values{}); st != http.StatusSeeOther {
		t.Errorf("sign-out = %d", st)
	}
	if st, _ := anon.get("/api/v1/me"); st != http.StatusUnauthorized {
		t.Errorf("the API after signing out: %d, want 401", st)
	}
}

// TestCrossOriginRefused: a form posted from another site is refused
// before it does anything, as the API refuses it.
func TestCrossOriginRefused(t *testing.T) {
	e := newEnv(t)
	_, org := e.user("ann@acme.test")
	b := e.signIn("ann@acme.test")
	st, body, _ := b.post("/orgs", url.Values{"name": {"forged"}}, "Origin", "https://evil.test", "Sec-Fetch-Site", "cross-site")
	if st != http.StatusForbidden || !strings.Contains(body, "another site") {
		t.Errorf("cross-site post = %d, want 403 saying why:\n%s", st, body)
	}
	if _, err := e.svc.GetOrg(context.Background(), control.Operator, "forged"); control.KindOf(err) != control.KindNotFound {
		t.Errorf("the forged organization exists (%v)", err)
	}
	if st, _, _ := b.post("/orgs", url.Values{"name": {"real"}}); st != http.StatusSeeOther {
		t.Errorf("same-site post = %d, want 303", st)
	}
	_ = org
}

// TestMemberSeesNoEditButtons: a Member of the organization reads the
// package but is offered no change, and a change posted anyway is
// refused by the service and changes nothing.
func TestMemberSeesNoEditButtons(t *testing.T) {
	e := newEnv(t)
	_, org := e.user("owner@acme.test")
	e.user("mia@acme.test")
	owner := e.signIn("owner@acme.test")
	if st, _, _ := owner.post("/orgs/"+org+"/members", url.Values{"email": {"mia@acme.test"}, "role": {"member"}}); st != http.StatusSeeOther {
		t.Fatalf("adding a member = %d", st)
	}
	host := org + ".gw.test"
	st, body, hdr := owner.post("/packages/new", fileForm(org, "rocket", host, "/rocket/{version}.tar.gz"))
	id := createdID(t, st, hdr, body)
	_, page := owner.get("/packages/" + id)
	for _, want := range []string{`href="/packages/` + id + `/edit"`, `action="/packages/` + id + `/delete"`, `Add member`} {
		if !strings.Contains(page, want) {
			t.Errorf("the Owner's package page lacks %s", want)
		}
	}

	mia := e.signIn("mia@acme.test")
	st, page = mia.get("/packages/" + id)
	if st != http.StatusOK || !strings.Contains(page, "curl -LO https://"+host+"/rocket/VERSION.tar.gz") {
		t.Fatalf("the Member's package page = %d, without the install command:\n%s", st, page)
	}
	for _, offered := range []string{"/edit", "/delete", "Add member", `class="danger"`} {
		if strings.Contains(page, offered) {
			t.Errorf("a Member is offered %q", offered)
		}
	}
	// Mia owns her personal organization only: the form offers that
	// one, not the one she is a Member of.
	if _, form := mia.get("/packages/new"); strings.Contains(form, `<option value="`+org+`"`) {
		t.Errorf("a Member is offered to create packages in %s", org)
	}
	if st, _ := mia.get("/packages/" + id + "/edit"); st != http.StatusForbidden {
		t.Errorf("the edit form for a Member = %d, want 403", st)
	}
	forged := fileForm(org, "renamed", host, "/rocket/{version}.tar.gz")
	if st, body, _ := mia.post("/packages/"+id+"/edit", forged); st != http.StatusForbidden || !strings.Contains(body, "Admin or Owner") {
		t.Errorf("a Member's edit posted anyway = %d, want 403 with the service's reason:\n%s", st, body)
	}
	if st, _, _ := mia.post("/packages/"+id+"/delete", url.Values{}); st != http.StatusForbidden {
		t.Errorf("a Member's delete posted anyway = %d, want 403", st)
	}
	if st, _, _ := mia.post("/orgs/"+org+"/members", url.Values{"email": {"mia@acme.test"}, "role": {"owner"}}); st != http.StatusForbidden {
		t.Errorf("a Member making itself Owner = %d, want 403", st)
	}
	v, err := e.svc.GetPackage(context.Background(), control.Operator, id)
	if err != nil || v.Name != "rocket" {
		t.Errorf("after the refused posts the package is %q (%v), want it unchanged", v.Name, err)
	}
	_, orgPage := mia.get("/orgs/" + org)
	if strings.Contains(orgPage, "Add member") || strings.Contains(orgPage, `<option value="owner">`) {
		t.Error("a Member is offered to grant roles in the organization")
	}
}

// TestValidationMessagesNextToFields: the service's located messages
// appear next to the input they name, with the values kept, and nothing
// is created.
func TestValidationMessagesNextToFields(t *testing.T) {
	e := newEnv(t)
	_, org := e.user("ann@acme.test")
	b := e.signIn("ann@acme.test")
	host := org + ".gw.test"
	cases := []struct {
		name  string
		form  url.Values
		field string
		want  string
	}{
		{"path", fileForm(org, "rocket", host, "rocket/{version}"), "rule.incoming-path", "start with"},
		{"name", fileForm(org, "bad name!", host, "/r/{version}"), "name", ""},
		{"domain", fileForm(org, "rocket", "other.test", "/r/{version}"), "rule.domain", "not a verified domain"},
		{"docker", url.Values{"kind": {"docker"}, "org": {org}, "name": {"img"}, "rule.domain": {host}, "rule.repository-name": {"acme/img"},
			"rule.registry": {"ghcr.io"}, "rule.mode": {"sideways"}}, "rule.mode", "unknown mode"},
		{"npm", url.Values{"kind": {"npm"}, "org": {org}, "name": {"n"}, "rule.domain": {host}, "rule.package-name": {"Not Valid"}}, "rule.package-name", "invalid package name"},
		{"python", url.Values{"kind": {"python"}, "org": {org}, "name": {"p"}, "rule.domain": {host}, "rule.package-name": {"rocket"},
			"rule.index-url": {"ftp://x.test"}}, "rule.index-url", "http or https"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, body, _ := b.post("/packages/new", c.form)
			if st != http.StatusBadRequest {
				t.Fatalf("status %d, want 400:\n%s", st, body)
			}
			id := fieldID(c.field)
			re := regexp.MustCompile(`(?s)<input id="` + id + `"[^>]*aria-invalid="true"[^>]*>.*?<p class="field-error" id="` + id + `-error">([^<]*)</p>`)
			if c.field == "rule.mode" {
				re = regexp.MustCompile(`(?s)<select id="` + id + `"[^>]*aria-invalid="true"[^>]*>.*?<p class="field-error" id="` + id + `-error">([^<]*)</p>`)
			}
			m := re.FindStringSubmatch(body)
			if m == nil {
				t.Fatalf("no message next to %s:\n%s", c.field, body)
			}
			if !strings.Contains(strings.ToLower(m[1]), c.want) {
				t.Errorf("message %q, want it to say %q", m[1], c.want)
			}
			if v := c.form.Get(c.field); v != "" && c.field != "rule.mode" && !strings.Contains(body, `value="`+strings.ReplaceAll(v, "!", "!")+`"`) {
				t.Errorf("the value %q was not kept", v)
			}
		})
	}
	pkgs, err := e.svc.ListPackages(context.Background(), control.Operator, org, control.Page{Limit: 10})
	if err != nil || len(pkgs) != 0 {
		t.Errorf("%d packages after refused forms (%v), want none", len(pkgs), err)
	}
}

// TestInstallCommands: each kind's command, from its form and its rule.
func TestInstallCommands(t *testing.T) {
	cases := []struct {
		kind string
		form url.Values
		want string
	}{
		{"docker", url.Values{"rule.domain": {"cr.acme.dev"}, "rule.repository-name": {"acme/rocket-skates"}, "rule.registry": {"ghcr.io"}}, "docker pull cr.acme.dev/acme/rocket-skates"},
		{"python", url.Values{"rule.domain": {"py.acme.dev"}, "rule.package-name": {"rocket-skates"}}, "pip install --index-url https://py.acme.dev/simple/ rocket-skates"},
		{"npm", url.Values{"rule.domain": {"npm.acme.dev"}, "rule.package-name": {"@acme/rocket-skates"}}, "npm install --registry https://npm.acme.dev/ @acme/rocket-skates"},
		{"file", url.Values{"rule.domain": {"get.acme.dev"}, "rule.incoming-path": {"/{version}/{os}/rocket-skates.tar.gz{?arch}"}}, "curl -LO https://get.acme.dev/VERSION/OS/rocket-skates.tar.gz"},
		{"file", url.Values{"rule.domain": {"get.acme.dev"}, "rule.incoming-path": {"/dl{/path*}/{file:3}"}}, "curl -LO https://get.acme.dev/dl/PATH/FILE"},
		{"docker", url.Values{}, "docker pull DOMAIN/IMAGE"},
	}
	for _, c := range cases {
		k, _ := kindNamed(c.kind)
		if got := installCommand(k.Type, ruleMap(ruleFromForm(k, c.form, nil))); got != c.want {
			t.Errorf("%s %v: %q, want %q", c.kind, c.form, got, c.want)
		}
	}
	// Editing keeps the fields the form does not show, and drops an
	// optional one left empty.
	k, _ := kindNamed("docker")
	base := map[string]any{"type": "docker-v1", "domain": "a.test", "repository-name": "x/y", "registry": "ghcr.io", "push": true, "upstream-repository": "z/y"}
	got := ruleMap(ruleFromForm(k, url.Values{"rule.domain": {"a.test"}, "rule.repository-name": {"x/y"}, "rule.registry": {"quay.io"}, "rule.mode": {"auto"}}, base))
	if got["push"] != true || got["registry"] != "quay.io" || got["upstream-repository"] != nil || got["mode"] != nil {
		t.Errorf("edited rule = %v", got)
	}
}

// TestPackagePagesCount: the list, the package page, the live answer and
// the analytics page count a package's downloads as the API does.
func TestPackagePagesCount(t *testing.T) {
	e := newEnv(t)
	_, org := e.user("ann@acme.test")
	b := e.signIn("ann@acme.test")
	host := org + ".gw.test"
	st, body, hdr := b.post("/packages/new", fileForm(org, "rocket", host, "/rocket/{version}.tar.gz"))
	id := createdID(t, st, hdr, body)
	now := time.Now().UTC()
	ids := event.NewIDSource()
	var evs []event.Event
	for i, v := range []string{"1.0", "1.0", "2.0"} {
		at := now.Add(-time.Duration(i) * time.Minute)
		evs = append(evs, event.Event{ID: ids.New(at), Time: at, Kind: event.KindFile, PackageID: id, Domain: host, Method: "GET",
			Path: "/rocket/" + v + ".tar.gz", Status: 307, Outcome: event.OutcomeRedirect, Variables: []event.Var{{Name: "version", Value: v}},
			Client: event.Client{Name: "curl", OS: "linux"}, Source: event.SourceHuman, Downloader: uint64(i + 1)})
	}
	if err := e.st.Append(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	_, list := b.get("/packages")
	if !regexp.MustCompile(`(?s)` + id + `.*?<td class="num">3</td>`).MatchString(list) {
		t.Errorf("the list does not count 3 downloads:\n%s", list)
	}
	st, live, _ := b.do("GET", "/packages/"+id+"/live", nil)
	if st != http.StatusOK || !strings.Contains(live, `"total":3`) {
		t.Errorf("live = %d %s", st, live)
	}
	_, page := b.get("/packages/" + id)
	if !strings.Contains(page, `<span class="value" data-live-total aria-live="polite">3</span>`) {
		t.Errorf("the package page does not show 3 downloads")
	}
	st, an := b.get("/packages/" + id + "/analytics?interval=week")
	if st != http.StatusOK || !strings.Contains(an, `<span class="value" id="total">3</span>`) ||
		!regexp.MustCompile(`(?s)data-dim="version".*?<th scope="row">1.0</th><td class="num">2</td>`).MatchString(an) {
		t.Errorf("analytics = %d, without 3 downloads, 2 of 1.0:\n%s", st, an)
	}
	if st, an := b.get("/packages/" + id + "/analytics?interval=hour&from=2020-01-01"); st != http.StatusBadRequest || !strings.Contains(an, "at most 31 days") {
		t.Errorf("an hourly series over years = %d", st)
	}
	st, csv, hdr := b.do("GET", "/packages/"+id+"/analytics.csv?interval=week", nil)
	if st != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/csv") || !strings.Contains(csv, "total,,,3\n") || !strings.Contains(csv, "by_version,,1.0,2\n") {
		t.Errorf("csv = %d %s:\n%s", st, hdr.Get("Content-Type"), csv)
	}
	if st, _, _ := b.do("GET", "/packages/"+id+"/analytics.csv?bots=sometimes", nil); st != http.StatusBadRequest {
		t.Errorf("csv with bots=sometimes = %d, want 400", st)
	}
}

// TestTokenFormSentTwice: the answer that shows a new token, reloaded
// (the form sent again), makes no second token and shows no secret; a
// form loaded afresh makes a new one.
func TestTokenFormSentTwice(t *testing.T) {
	e := newEnv(t)
	u, _ := e.user("ann@acme.test")
	b := e.signIn("ann@acme.test")
	keyOf := func() string {
		t.Helper()
		st, body := b.get("/tokens")
		m := regexp.MustCompile(`name="key" value="([^"]+)"`).FindStringSubmatch(body)
		if st != http.StatusOK || m == nil {
			t.Fatalf("GET /tokens = %d without a key in its form:\n%s", st, body)
		}
		return m[1]
	}
	secret := regexp.MustCompile(`portico_[A-Za-z0-9_-]{43}`)
	count := func() int {
		t.Helper()
		ts, err := e.svc.ListTokens(context.Background(), control.Principal{User: u, Scope: control.ScopeWrite}, control.Page{})
		if err != nil {
			t.Fatal(err)
		}
		return len(ts)
	}

	form := url.Values{"name": {"ci"}, "scope": {"read"}, "days": {"30"}, "key": {keyOf()}}
	st, body, _ := b.post("/tokens", form)
	if st != http.StatusCreated || !secret.MatchString(body) {
		t.Fatalf("creating a token: %d, want 201 with the secret:\n%s", st, body)
	}
	st, body, hdr := b.post("/tokens", form)
	if st != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), "/tokens?notice=") || secret.MatchString(body) {
		t.Errorf("the form sent again: %d to %q, want 303 to /tokens with a notice and no secret:\n%s", st, hdr.Get("Location"), body)
	}
	if st, body := b.get(hdr.Get("Location")); st != http.StatusOK || !strings.Contains(body, "sent already") || secret.MatchString(body) {
		t.Errorf("the page the second sending leads to: %d, want the notice and no secret:\n%s", st, body)
	}
	if n := count(); n != 1 {
		t.Errorf("%d tokens after the form was sent twice, want 1", n)
	}
	form.Set("key", keyOf())
	if st, body, _ := b.post("/tokens", form); st != http.StatusCreated || !secret.MatchString(body) {
		t.Errorf("a form loaded again: %d, want a new token:\n%s", st, body)
	}
	if n := count(); n != 2 {
		t.Errorf("%d tokens after a second form, want 2", n)
	}
	// Another user sending the same key makes a token of their own.
	e.user("bob@acme.test")
	if st, body, _ := e.signIn("bob@acme.test").post("/tokens", form); st != http.StatusCreated || !secret.MatchString(body) {
		t.Errorf("another user with the same key: %d, want a token:\n%s", st, body)
	}
}

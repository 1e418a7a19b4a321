package web_test

// The browser tests drive Debian's chromium through chromedp against a
// whole Portico process (gateway, store and app listener), as a
// maintainer would: sign in, create a package of each kind through the
// forms, watch a download arrive on the open package page, export the
// CSV and compare it with the API, and run axe-core on every page.
//
// When a step fails, a screenshot and the page's HTML are written to
// $PORTICO_TEST_ARTIFACTS, or to test-output/ in this directory (ignored
// by git); the failure names the files. With PORTICO_TEST_ARTIFACTS set,
// the package page's screenshot is written there on success too.

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"portico/internal/app"
	"portico/internal/config"
	"portico/internal/control"
	"portico/internal/testenv"
)

const (
	adminEmail    = "maintainer@acme.test"
	adminPassword = "a long passphrase for the dashboard"
)

// gateway is a whole Portico process for a browser test.
type gateway struct {
	gw, app string // addresses
	token   string // a write token of the administrator
	org     string
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startGateway prepares a store with an administrator, a write token and
// four verified domains, then serves it.
func startGateway(t *testing.T) *gateway {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Listen, cfg.OpsListen, cfg.Control.AppListen = freeAddr(t), "off", freeAddr(t)
	cfg.Analytics.Data = filepath.Join(dir, "data")
	cfg.Events = "none"
	cfg.ReloadInterval = 0
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	svc, closeSvc, err := app.OpenService(ctx, cfg.Analytics.StoreLocation, cfg.Control, app.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	u, o, err := svc.CreateUser(ctx, control.Operator, control.NewUser{Email: adminEmail, Password: adminPassword, ServerAdmin: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"get.acme.test", "cr.acme.test", "py.acme.test", "npm.acme.test"} {
		if _, err := svc.AddDomain(ctx, control.Operator, o.Name, d, true, false); err != nil {
			t.Fatal(err)
		}
	}
	tok, _, err := svc.CreateToken(ctx, control.As(u), control.NewToken{Name: "test", Scope: control.ScopeWrite})
	if err != nil {
		t.Fatal(err)
	}
	closeSvc()

	a, err := app.New(ctx, cfg, io.Discard, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
	g := &gateway{gw: cfg.Listen, app: cfg.Control.AppListen, token: tok, org: o.Name}
	for deadline := time.Now().Add(10 * time.Second); ; {
		if resp, err := http.Get("http://" + g.app + "/signin"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the app listener does not answer")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return g
}

// download sends one request to the gateway and returns its status.
func (g *gateway) download(t *testing.T, host, path, agent string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+g.gw+path, nil)
	req.Host = host
	req.Header.Set("User-Agent", agent)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// api sends an API request with the administrator's token.
func (g *gateway) api(t *testing.T, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+g.app+path, nil)
	req.Header.Set("Authorization", "Bearer "+g.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// browser is a headless chromium with a fresh profile.
type browser struct {
	t         *testing.T
	ctx       context.Context
	base      string
	artifacts string
	axe       string
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	path := testenv.LookPath(t, "chromium")
	axe, err := os.ReadFile(filepath.Join("testdata", "axe", "axe.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1000),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-extensions", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	dir := os.Getenv("PORTICO_TEST_ARTIFACTS")
	if dir == "" {
		dir = "test-output"
	}
	return &browser{t: t, ctx: ctx, base: base, artifacts: dir, axe: string(axe)}
}

// do runs steps with a bound, and on failure saves what the page
// showed.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.fail(what, err)
	}
}

// fail saves a screenshot and the HTML of the page, and fails the test.
func (b *browser) fail(what string, err error) {
	b.t.Helper()
	name := regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(b.t.Name()+"-"+what, "-")
	saved := b.save(name)
	b.t.Fatalf("%s: %v (%s)", what, err, saved)
}

func (b *browser) save(name string) string {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if err := os.MkdirAll(b.artifacts, 0o755); err != nil {
		return "artifacts not saved: " + err.Error()
	}
	var notes []string
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		p := filepath.Join(b.artifacts, name+".png")
		if os.WriteFile(p, png, 0o644) == nil {
			notes = append(notes, p)
		}
	}
	if html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html"))); err == nil {
		p := filepath.Join(b.artifacts, name+".html")
		if os.WriteFile(p, []byte(html), 0o644) == nil {
			notes = append(notes, p)
		}
	}
	if len(notes) == 0 {
		return "no artifacts saved"
	}
	return "saved " + strings.Join(notes, " and ")
}

func get[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.fail(what, err)
	}
	return v
}

// open loads a page and waits until it is complete.
func (b *browser) open(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path), waitLoaded(path))
}

// waitLoaded waits until a page at a path starting with prefix has
// loaded, and is not the page that was open when a form was submitted.
// It asks again and again rather than waiting in the page, which a
// navigation would interrupt.
func waitLoaded(prefix string) chromedp.Action[chromedp.Void] {
	p, _, _ := strings.Cut(prefix, "?")
	js := fmt.Sprintf(`window.portico_old !== true && document.readyState === "complete" && location.pathname.startsWith(%q) && document.querySelector("main") !== null`, p)
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		deadline := time.Now().Add(20 * time.Second)
		for {
			ok, err := chromedp.Evaluate[bool](js)(ctx, t)
			if err == nil && ok {
				return chromedp.Void{}, nil
			}
			if time.Now().After(deadline) {
				return chromedp.Void{}, fmt.Errorf("no page at %s after 20s (last error: %v)", prefix, err)
			}
			select {
			case <-ctx.Done():
				return chromedp.Void{}, ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// axeViolation is what axe-core reports of one rule.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any `json:"target"`
	} `json:"nodes"`
}

// checkAccessible runs axe-core on the open page and fails on any
// serious or critical violation.
func (b *browser) checkAccessible(page string) {
	b.t.Helper()
	b.do("inject axe-core on "+page, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[chromedp.Void](b.axe)(ctx, t)
		return err
	}))
	vs := get(b, "axe on "+page, chromedp.Evaluate[[]axeViolation](`axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations)`, chromedp.EvalAwaitPromise))
	for _, v := range vs {
		if v.Impact == "serious" || v.Impact == "critical" {
			var where []string
			for _, n := range v.Nodes {
				where = append(where, fmt.Sprint(n.Target...))
			}
			b.t.Errorf("%s: %s violation %s: %s (at %s)", page, v.Impact, v.ID, v.Help, strings.Join(where, ", "))
		}
	}
	if b.t.Failed() {
		b.save(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(b.t.Name()+"-axe-"+page, "-"))
	}
}

// text returns the text of the first element matching sel.
func (b *browser) text(sel string) string {
	b.t.Helper()
	return get(b, "text of "+sel, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {textContent: "(none)"}).textContent.trim()`, sel)))
}

// fill types into the empty inputs of the page's form, by name.
func (b *browser) fill(values map[string]string) {
	b.t.Helper()
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		sel := chromedp.CSS(fmt.Sprintf(`main form [name=%q]`, k))
		b.do("type "+k, chromedp.SendKeys(sel, values[k]))
	}
}

// submit submits a form and waits for the page at next.
func (b *browser) submit(form, next string) {
	b.t.Helper()
	// The page is marked, and submitted once the evaluation returned:
	// the navigation must not interrupt it.
	js := fmt.Sprintf(`window.portico_old = true; setTimeout(() => document.querySelector(%q).requestSubmit(), 0)`, form)
	b.do("submit "+form, chromedp.Evaluate[chromedp.Void](js), waitLoaded(next))
}

// TestDashboardInBrowser is a maintainer's first session in the
// dashboard.
func TestDashboardInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the browser test in short mode")
	}
	b := newBrowser(t, "") // chromium first: without it, nothing else is worth starting
	g := startGateway(t)
	b.base = "http://" + g.app

	// Signing in: a stranger is sent to the form, and back.
	b.do("open /packages signed out", chromedp.Navigate(b.base+"/packages"), waitLoaded("/signin"))
	if loc := get(b, "location", chromedp.Location()); !strings.Contains(loc, "/signin?next=%2Fpackages") {
		t.Fatalf("a stranger asking for /packages is at %s", loc)
	}
	b.checkAccessible("signin")
	b.do("keyboard: the skip link comes first", chromedp.KeyEvent("\t"))
	if got := get(b, "focus", chromedp.Evaluate[string](`document.activeElement.className`)); got != "skip" {
		t.Errorf("the first Tab focuses %q, want the skip link", got)
	}
	b.fill(map[string]string{"email": adminEmail, "password": adminPassword})
	b.submit("main form", "/packages")
	b.checkAccessible("packages-empty")

	// One package of each kind through its form, with the preview of the
	// command updated while typing.
	kinds := []struct {
		kind    string
		fields  map[string]string
		command string
	}{
		{"docker", map[string]string{"name": "rocket-image", "rule.domain": "cr.acme.test", "rule.repository-name": "acme/rocket", "rule.registry": "ghcr.io"},
			"docker pull cr.acme.test/acme/rocket"},
		{"python", map[string]string{"name": "rocket-py", "rule.domain": "py.acme.test", "rule.package-name": "rocket-skates"},
			"pip install --index-url https://py.acme.test/simple/ rocket-skates"},
		{"npm", map[string]string{"name": "rocket-npm", "rule.domain": "npm.acme.test", "rule.package-name": "@acme/rocket"},
			"npm install --registry https://npm.acme.test/ @acme/rocket"},
		{"file", map[string]string{"name": "rocket-bin", "rule.domain": "get.acme.test", "rule.incoming-path": "/rocket/{version}/{os}.tar.gz",
			"rule.outgoing-url": "https://dl.test/rocket/{version}/rocket-{os}.tar.gz"}, "curl -LO https://get.acme.test/rocket/VERSION/OS.tar.gz"},
	}
	ids := map[string]string{}
	for _, k := range kinds {
		b.open("/packages/new?kind=" + k.kind)
		b.checkAccessible("new-" + k.kind)
		b.fill(k.fields)
		b.do("preview of "+k.kind, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Poll[bool](fmt.Sprintf(`document.querySelector("[data-preview]").textContent === %q`, k.command), chromedp.WithPollingTimeout(5*time.Second))(ctx, t)
			return err
		}))
		b.submit("main form", "/packages/")
		if got := b.text("#install-cmd"); got != k.command {
			t.Errorf("%s: the package page's command is %q, want %q", k.kind, got, k.command)
		}
		loc := get(b, "location", chromedp.Location())
		u, _ := url.Parse(loc)
		ids[k.kind] = strings.TrimPrefix(u.Path, "/packages/")
	}

	// A bad path: the service's message appears next to its input, and
	// the values typed are kept.
	b.open("/packages/new?kind=file")
	b.fill(map[string]string{"name": "bad", "rule.domain": "get.acme.test", "rule.incoming-path": "rocket/{version}", "rule.outgoing-url": "https://dl.test/{version}"})
	b.submit("main form", "/packages/new")
	next := get(b, "the message's place", chromedp.Evaluate[string](`(() => {
		const input = document.getElementById("f-rule-incoming-path");
		const msg = document.getElementById("f-rule-incoming-path-error");
		if (!input || !msg) return "no message";
		if (input.closest(".field") !== msg.closest(".field")) return "elsewhere";
		if (input.getAttribute("aria-invalid") !== "true" || !input.getAttribute("aria-describedby").includes(msg.id)) return "not tied to the input";
		return msg.textContent + " | " + input.value;
	})()`))
	if !strings.Contains(next, "start with '/'") || !strings.HasSuffix(next, "| rocket/{version}") {
		t.Errorf("the bad path's message: %q", next)
	}
	b.checkAccessible("form-with-error")

	// A download while the package page is open: the count changes
	// without a reload.
	id := ids["file"]
	b.open("/packages/" + id)
	b.checkAccessible("package")
	if got := b.text("[data-live-total]"); got != "0" {
		t.Fatalf("before the download the page shows %q", got)
	}
	b.do("mark the page", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[chromedp.Void](`window.portico_marker = 1`)(ctx, t)
		return err
	}))
	if st := g.download(t, "get.acme.test", "/rocket/v1.2.0/linux.tar.gz", "curl/8.5.0"); st != http.StatusTemporaryRedirect {
		t.Fatalf("download = %d", st)
	}
	sent := time.Now()
	b.do("the count changes", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[bool](`document.querySelector("[data-live-total]").textContent === "1"`, chromedp.WithPollingTimeout(5*time.Second))(ctx, t)
		return err
	}))
	t.Logf("the download appeared on the open page after %v", time.Since(sent).Round(10*time.Millisecond))
	if marked := get(b, "marker", chromedp.Evaluate[bool](`window.portico_marker === 1`)); !marked {
		t.Error("the page was reloaded to show the download")
	}
	// Without a connection the page keeps its count and says so.
	b.do("lose the connection", chromedp.Evaluate[chromedp.Void](`window.fetch = () => Promise.reject(new TypeError("offline"))`),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Poll[bool](`document.querySelector("[data-live-status]").textContent.startsWith("Cannot reach Portico")`, chromedp.WithPollingTimeout(10*time.Second))(ctx, t)
			return err
		}))
	if got := b.text("[data-live-total]"); got != "1" {
		t.Errorf("offline, the page shows %q, want the last count 1", got)
	}
	if dir := os.Getenv("PORTICO_TEST_ARTIFACTS"); dir != "" {
		for i := range 40 {
			agent := [...]string{"curl/8.5.0", "Wget/1.21.4", "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0"}[i%3]
			g.download(t, "get.acme.test", fmt.Sprintf("/rocket/v1.%d.0/%s.tar.gz", i%4, [...]string{"linux", "darwin", "windows"}[i%3]), agent)
		}
		time.Sleep(3 * time.Second)
		b.open("/packages/" + id)
		b.save("package-page")
	}

	// The analytics page and its CSV, against the API for the same
	// range.
	b.open("/packages/" + id + "/analytics?interval=day")
	b.checkAccessible("analytics")
	href := get(b, "CSV link", chromedp.Evaluate[string](`document.querySelector("a[download]").getAttribute("href")`))
	csvText := get(b, "CSV", chromedp.Evaluate[string](fmt.Sprintf(`fetch(%q).then(r => r.text())`, href), chromedp.EvalAwaitPromise))
	compareWithAPI(t, g, "/api/v1/packages/"+id+"/stats", href, csvText)
	b.open("/orgs/" + g.org + "/analytics")
	b.checkAccessible("org-analytics")
	href = get(b, "CSV link", chromedp.Evaluate[string](`document.querySelector("a[download]").getAttribute("href")`))
	csvText = get(b, "CSV", chromedp.Evaluate[string](fmt.Sprintf(`fetch(%q).then(r => r.text())`, href), chromedp.EvalAwaitPromise))
	compareWithAPI(t, g, "/api/v1/orgs/"+g.org+"/stats", href, csvText)

	// Every other page, for the accessibility check, and the package
	// page on a phone's screen: nothing wider than the screen.
	for _, p := range []string{"/packages", "/packages/" + ids["docker"], "/packages/" + id + "/edit", "/domains", "/collections",
		"/orgs", "/orgs/" + g.org, "/tokens", "/no-such-page"} {
		b.open(p)
		b.checkAccessible(strings.ReplaceAll(p, "/", "-"))
	}
	b.open("/tokens")
	b.fill(map[string]string{"name": "ci"})
	b.submit(`main form[action="/tokens"]`, "/tokens")
	if tok := get(b, "new token", chromedp.Evaluate[string](`document.getElementById("new-token").value`)); !strings.HasPrefix(tok, "portico_") {
		t.Errorf("the new token shown is %q", tok)
	}
	b.checkAccessible("token-created")
	b.do("phone screen", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3), chromedp.EmulateMobile), chromedp.Navigate(b.base+"/packages/"+id), waitLoaded("/packages/"))
	if wide := get(b, "width", chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)); wide {
		b.fail("phone screen", fmt.Errorf("the package page is wider than a 390-pixel screen"))
	}
	b.checkAccessible("package-phone")

	// The session ends while a package page is open: the page says so
	// and offers to sign in again, back to the same page, instead of
	// calling the server unreachable.
	b.open("/packages/" + id)
	shown := b.text("[data-live-total]")
	b.do("end the session", chromedp.Evaluate[chromedp.Void](`fetch("/api/v1/session", {method: "DELETE", credentials: "same-origin"}).then(() => undefined)`, chromedp.EvalAwaitPromise),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Poll[bool](`document.querySelector("[data-live-status]").textContent.startsWith("Your session has ended")`, chromedp.WithPollingTimeout(10*time.Second))(ctx, t)
			return err
		}))
	link := get(b, "sign-in link", chromedp.Evaluate[string](`(() => { const a = document.querySelector("[data-live-status] a"); return a ? a.getAttribute("href") : ""; })()`))
	if want := "/signin?next=" + url.QueryEscape("/packages/"+id); link != want {
		t.Errorf("the ended session's link goes to %q, want %q", link, want)
	}
	if got := b.text("[data-live-total]"); got != shown {
		t.Errorf("after the session ended, the page shows %q, want the last count %q", got, shown)
	}
}

// compareWithAPI holds the dashboard's CSV to the API's statistics for
// the same query string: total, unique downloaders, series and each
// breakdown.
func compareWithAPI(t *testing.T, g *gateway, apiPath, href, csvText string) {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(csvText)).ReadAll()
	if err != nil || len(rows) < 3 || strings.Join(rows[0], ",") != "section,time,key,value" {
		t.Fatalf("the CSV is not the report's (%v):\n%s", err, csvText)
	}
	u, _ := url.Parse(href)
	q := u.Query()
	sections := map[string][][2]string{}
	for _, r := range rows[1:] {
		key := r[2]
		if r[0] == "series" {
			key = r[1]
		}
		sections[r[0]] = append(sections[r[0]], [2]string{key, r[3]})
	}
	type apiStats struct {
		Total  int64 `json:"total"`
		Unique int64 `json:"unique"`
		Series []struct {
			Time  time.Time `json:"time"`
			Value int64     `json:"value"`
		} `json:"series"`
		Breakdown []struct {
			Key   string `json:"key"`
			Value int64  `json:"value"`
		} `json:"breakdown"`
	}
	var whole apiStats
	g.api(t, apiPath+"?"+q.Encode(), &whole)
	if want := strconv.FormatInt(whole.Total, 10); len(sections["total"]) != 1 || sections["total"][0][1] != want {
		t.Errorf("%s: CSV total %v, API %s", apiPath, sections["total"], want)
	}
	if want := strconv.FormatInt(whole.Unique, 10); len(sections["unique_downloaders"]) != 1 || sections["unique_downloaders"][0][1] != want {
		t.Errorf("%s: CSV unique downloaders %v, API %s", apiPath, sections["unique_downloaders"], want)
	}
	if len(sections["series"]) != len(whole.Series) {
		t.Fatalf("%s: CSV has %d points, API %d", apiPath, len(sections["series"]), len(whole.Series))
	}
	for i, p := range whole.Series {
		if got := sections["series"][i]; got[0] != p.Time.UTC().Format(time.RFC3339) || got[1] != strconv.FormatInt(p.Value, 10) {
			t.Errorf("%s: CSV point %v, API %v %d", apiPath, got, p.Time, p.Value)
		}
	}
	if whole.Total == 0 {
		t.Errorf("%s: nothing counted, so nothing compared", apiPath)
	}
	for _, dim := range []string{"version", "client", "os", "country", "org", "source"} {
		q.Set("by", dim)
		q.Set("limit", "10")
		var by apiStats
		g.api(t, apiPath+"?"+q.Encode(), &by)
		got := sections["by_"+dim]
		if len(got) != len(by.Breakdown) {
			t.Errorf("%s by %s: CSV %v, API %v", apiPath, dim, got, by.Breakdown)
			continue
		}
		for i, s := range by.Breakdown {
			if got[i] != [2]string{s.Key, strconv.FormatInt(s.Value, 10)} {
				t.Errorf("%s by %s: CSV row %v, API %q %d", apiPath, dim, got[i], s.Key, s.Value)
			}
		}
	}
}

package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"portico/internal/config"
	"portico/internal/control"
	"portico/internal/testenv"
)

// running is an App serving in the background for a test.
type running struct {
	*App
	events *testenv.Buffer
	stop   func()
}

func startApp(t *testing.T, cfg config.Config) *running {
	t.Helper()
	events := &testenv.Buffer{}
	a, err := New(t.Context(), cfg, events, newTestLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v", err)
			}
		case <-time.After(time.Minute):
			t.Error("Run did not return after its context ended")
		}
	}
	t.Cleanup(stop)
	return &running{App: a, events: events, stop: stop}
}

// adminToken creates a server administrator and returns a write token
// of it, with the name of its personal organization.
func adminToken(t *testing.T, a *App, email string) (token, org string) {
	t.Helper()
	ctx := t.Context()
	u, o, err := a.control.svc.CreateUser(ctx, control.Operator, control.NewUser{Email: email, ServerAdmin: true})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := a.control.svc.CreateToken(ctx, control.Principal{User: u, Scope: control.ScopeWrite}, control.NewToken{Name: "test", Scope: control.ScopeWrite})
	if err != nil {
		t.Fatal(err)
	}
	return tok, o.Name
}

// call sends an API request to the app listener.
func call(t *testing.T, a *App, token, method, path string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, "http://"+a.app.Addr().String()+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data
}

// download asks the gateway for path on host, and returns the status and
// the redirect's target.
func download(t *testing.T, addr, host, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

func fileRule(domain, target string) map[string]any {
	return map[string]any{"type": "file-v1", "domain": domain, "incoming-path": "/rocket/{v}.tar.gz", "outgoing-url": "https://" + target + "/{v}.tar.gz"}
}

// TestAPIChangesRouteBeforeTheAnswer creates, changes and deletes a
// package through the app listener, and asks the gateway right after
// each answer: the change routes already, beside the manifest's rules.
func TestAPIChangesRouteBeforeTheAnswer(t *testing.T) {
	cfg := testConfig(t)
	cfg.Control.BaseDomain = "gw.test"
	a := startApp(t, cfg)
	tok, org := adminToken(t, a.App, "ops@acme.test")
	host := org + ".gw.test"
	gw := a.gw.Addr().String()

	if st, _ := download(t, gw, host, "/rocket/1.0.tar.gz"); st != http.StatusNotFound {
		t.Fatalf("before the package: %d, want 404", st)
	}
	st, body := call(t, a.App, tok, "POST", "/api/v1/packages", map[string]any{"org": org, "name": "rocket", "rule": fileRule(host, "dl.test")})
	if st != http.StatusCreated {
		t.Fatalf("create = %d %s", st, body)
	}
	var pkg struct{ ID string }
	if err := json.Unmarshal(body, &pkg); err != nil || pkg.ID == "" {
		t.Fatalf("create answered %s (%v)", body, err)
	}
	if st, loc := download(t, gw, host, "/rocket/1.0.tar.gz"); st != http.StatusTemporaryRedirect || loc != "https://dl.test/1.0.tar.gz" {
		t.Fatalf("right after the create: %d %q, want a redirect to dl.test", st, loc)
	}
	if st, body := call(t, a.App, tok, "PATCH", "/api/v1/packages/"+pkg.ID, map[string]any{"rule": fileRule(host, "mirror.test")}); st != http.StatusOK {
		t.Fatalf("patch = %d %s", st, body)
	}
	if st, loc := download(t, gw, host, "/rocket/1.1.tar.gz"); st != http.StatusTemporaryRedirect || loc != "https://mirror.test/1.1.tar.gz" {
		t.Fatalf("right after the backend switch: %d %q, want a redirect to mirror.test", st, loc)
	}
	// The manifest's rule serves beside the store's, and is listed
	// read-only.
	if st, loc := download(t, gw, "a.test", "/dl/x.tar.gz"); st != http.StatusTemporaryRedirect || loc != "https://dl.test/x.tar.gz" {
		t.Errorf("the manifest's rule: %d %q", st, loc)
	}
	st, body = call(t, a.App, tok, "GET", "/api/v1/packages", nil)
	var list struct {
		Items []struct {
			ID       string `json:"id"`
			ReadOnly bool   `json:"read_only"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &list); st != http.StatusOK || err != nil {
		t.Fatalf("list = %d %s", st, body)
	}
	seen := map[string]bool{}
	for _, it := range list.Items {
		seen[it.ID] = it.ReadOnly
	}
	if ro, ok := seen["p"]; !ok || !ro {
		t.Errorf("the manifest's package p is not listed read-only: %s", body)
	}
	if ro, ok := seen[pkg.ID]; !ok || ro {
		t.Errorf("the store's package is not listed as writable: %s", body)
	}
	if st, body := call(t, a.App, tok, "PATCH", "/api/v1/packages/p", map[string]any{"name": "q"}); st != http.StatusConflict || !strings.Contains(string(body), "manifest") {
		t.Errorf("patching the manifest's package = %d %s, want 409 naming the manifest", st, body)
	}

	if st, body := call(t, a.App, tok, "DELETE", "/api/v1/packages/"+pkg.ID, nil); st != http.StatusNoContent {
		t.Fatalf("delete = %d %s", st, body)
	}
	if st, _ := download(t, gw, host, "/rocket/1.1.tar.gz"); st != http.StatusNotFound {
		t.Fatalf("right after the delete: %d, want 404", st)
	}
	a.stop()
	// Downloads are counted under the package's id, which the backend
	// switch kept.
	if n := strings.Count(a.events.String(), `"package_id":"`+pkg.ID+`"`); n != 2 {
		t.Errorf("%d events carry the package's id, want 2:\n%s", n, a.events.String())
	}
}

// TestManifestShadowRefused: a package that would answer exactly what a
// manifest rule answers is refused, naming the rule.
func TestManifestShadowRefused(t *testing.T) {
	cfg := testConfig(t)
	a := startApp(t, cfg)
	tok, org := adminToken(t, a.App, "ops@acme.test")
	if _, err := a.control.svc.AddDomain(t.Context(), control.Operator, org, "a.test", true, false); err != nil {
		t.Fatal(err)
	}
	rule := map[string]any{"type": "file-v1", "domain": "a.test", "incoming-path": "/dl/{file}", "outgoing-url": "https://evil.test/{file}"}
	st, body := call(t, a.App, tok, "POST", "/api/v1/packages", map[string]any{"org": org, "name": "shadow", "rule": rule})
	if st != http.StatusConflict || !strings.Contains(string(body), "rules[0]") {
		t.Fatalf("shadowing package = %d %s, want 409 naming the manifest's rules[0]", st, body)
	}
	if st, loc := download(t, a.gw.Addr().String(), "a.test", "/dl/x"); st != http.StatusTemporaryRedirect || loc != "https://dl.test/x" {
		t.Errorf("the manifest's rule after the refusal: %d %q", st, loc)
	}
}

// jsonField returns a string field of a JSON object.
func jsonField(t *testing.T, body []byte, name string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("not a JSON object: %s", body)
	}
	s, _ := m[name].(string)
	if s == "" {
		t.Fatalf("no %q in %s", name, body)
	}
	return s
}

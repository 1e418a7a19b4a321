package app

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"portico/internal/control"
	"portico/internal/testenv"
)

// TestDomainVerification adds a custom domain through the API, verifies
// it against a local DNS server, and serves a package on it; a domain
// that stops routing answers 404 on the gateway.
func TestDomainVerification(t *testing.T) {
	ns := testenv.NewDNSServer(t)
	cfg := testConfig(t)
	cfg.Control.DNSResolver = ns.Addr
	a := startApp(t, cfg)
	tok, org := adminToken(t, a.App, "ops@acme.test")
	const host = "get.acme.test"
	gw := a.gw.Addr().String()

	st, body := call(t, a.App, tok, "POST", "/api/v1/domains", map[string]any{"org": org, "name": host})
	if st != http.StatusCreated {
		t.Fatalf("add domain = %d %s", st, body)
	}
	var d struct {
		Status  string `json:"status"`
		Records []struct{ Type, Name, Value string }
	}
	if err := json.Unmarshal(body, &d); err != nil || d.Status != "pending" || len(d.Records) != 1 || d.Records[0].Type != "TXT" || d.Records[0].Name != control.ChallengeLabel+"."+host {
		t.Fatalf("new domain = %s (%v), want pending with one TXT record", body, err)
	}
	pkg := map[string]any{"org": org, "name": "rocket", "rule": fileRule(host, "dl.test")}
	if st, body := call(t, a.App, tok, "POST", "/api/v1/packages", pkg); st != http.StatusBadRequest || !strings.Contains(string(body), "rule.domain") {
		t.Fatalf("package on a pending domain = %d %s, want 400 on rule.domain", st, body)
	}

	// The wrong value does not verify; the right one does.
	ns.SetTXT(control.ChallengeLabel+"."+host, "not-the-token")
	if st, body = call(t, a.App, tok, "POST", "/api/v1/domains/"+host+"/verify", nil); st != http.StatusOK || !strings.Contains(string(body), `"status":"pending"`) {
		t.Fatalf("verify with a wrong record = %d %s, want still pending", st, body)
	}
	ns.SetTXT(control.ChallengeLabel+"."+host, d.Records[0].Value)
	if st, body = call(t, a.App, tok, "POST", "/api/v1/domains/"+host+"/verify", nil); st != http.StatusOK || !strings.Contains(string(body), `"status":"verified"`) {
		t.Fatalf("verify = %d %s, want verified", st, body)
	}
	if st, body := call(t, a.App, tok, "POST", "/api/v1/packages", pkg); st != http.StatusCreated {
		t.Fatalf("package on the verified domain = %d %s", st, body)
	}
	if st, loc := download(t, gw, host, "/rocket/1.tar.gz"); st != http.StatusTemporaryRedirect || loc != "https://dl.test/1.tar.gz" {
		t.Fatalf("download on the verified domain: %d %q", st, loc)
	}

	// A domain that failed its checks past the grace period is pending
	// again: its packages stay, and answer nothing.
	err := a.control.store.Update(t.Context(), func(tx control.Tx) error {
		d, err := tx.Domain(t.Context(), host)
		if err != nil {
			return err
		}
		d.Status = control.DomainPending
		tx.RoutingChanged()
		return tx.UpdateDomain(t.Context(), d)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.loader.ReloadSource(a.control.source); err != nil {
		t.Fatal(err)
	}
	if st, _ := download(t, gw, host, "/rocket/1.tar.gz"); st != http.StatusNotFound {
		t.Fatalf("download on a domain no longer verified: %d, want 404", st)
	}
}

// domainJSON is what the tests read of a domain's answer.
type domainJSON struct {
	Status    string `json:"status"`
	LastError string `json:"last_error"`
	Records   []struct{ Type, Name, Value string }
}

func getDomain(t *testing.T, a *App, tok, host string) domainJSON {
	t.Helper()
	st, body := call(t, a, tok, "GET", "/api/v1/domains/"+host, nil)
	var d domainJSON
	if err := json.Unmarshal(body, &d); st != http.StatusOK || err != nil {
		t.Fatalf("GET domain %s = %d %s", host, st, body)
	}
	return d
}

// recheck runs the periodic check of every custom domain now.
func recheck(t *testing.T, a *App) {
	t.Helper()
	// Domains checked in the current millisecond are not due yet.
	time.Sleep(2 * time.Millisecond)
	if n, err := a.control.svc.RecheckDomains(t.Context(), 0); err != nil || n != 1 {
		t.Fatalf("RecheckDomains = %d, %v; want 1 domain checked", n, err)
	}
}

// TestDomainCNAMEAndRechecks: with --cname-target, a custom domain needs
// its TXT record and a CNAME to the target, and says which is wrong. Once
// verified, a failed periodic check (a record gone, the resolver down)
// marks it failing but keeps it routing; it recovers when the records
// answer again, and only failures for longer than the grace unroute it.
func TestDomainCNAMEAndRechecks(t *testing.T) {
	ns := testenv.NewDNSServer(t)
	cfg := testConfig(t)
	cfg.Control.DNSResolver = ns.Addr
	cfg.Control.CNAMETarget = "edge.portico.test"
	a := startApp(t, cfg)
	tok, org := adminToken(t, a.App, "ops@acme.test")
	const host = "get.acme.test"
	gw := a.gw.Addr().String()
	challenge := control.ChallengeLabel + "." + host

	st, body := call(t, a.App, tok, "POST", "/api/v1/domains", map[string]any{"org": org, "name": host})
	var d domainJSON
	if err := json.Unmarshal(body, &d); st != http.StatusCreated || err != nil {
		t.Fatalf("add domain = %d %s", st, body)
	}
	if len(d.Records) != 2 || d.Records[0].Type != "TXT" || d.Records[0].Name != challenge ||
		d.Records[1].Type != "CNAME" || d.Records[1].Name != host || d.Records[1].Value != "edge.portico.test" {
		t.Fatalf("records %+v, want the TXT record and a CNAME to edge.portico.test", d.Records)
	}
	token := d.Records[0].Value

	verify := func(want, problem string) {
		t.Helper()
		st, body := call(t, a.App, tok, "POST", "/api/v1/domains/"+host+"/verify", nil)
		var got domainJSON
		if err := json.Unmarshal(body, &got); st != http.StatusOK || err != nil {
			t.Fatalf("verify = %d %s", st, body)
		}
		if got.Status != want || !strings.Contains(got.LastError, problem) || (problem == "") != (got.LastError == "") {
			t.Fatalf("verify: status %q, last error %q; want %q with an error containing %q", got.Status, got.LastError, want, problem)
		}
	}
	ns.SetTXT(challenge, token)
	verify("pending", "looking up CNAME "+host)
	ns.SetCNAME(host, "elsewhere.test")
	verify("pending", host+" is a CNAME of elsewhere.test, not of edge.portico.test")
	ns.SetCNAME(host, "EDGE.portico.test.")
	verify("verified", "")

	if st, body := call(t, a.App, tok, "POST", "/api/v1/packages", map[string]any{"org": org, "name": "rocket", "rule": fileRule(host, "dl.test")}); st != http.StatusCreated {
		t.Fatalf("package on the verified domain = %d %s", st, body)
	}
	routes := func(when string) {
		t.Helper()
		if st, loc := download(t, gw, host, "/rocket/1.tar.gz"); st != http.StatusTemporaryRedirect || loc != "https://dl.test/1.tar.gz" {
			t.Fatalf("%s: download = %d %q, want the redirect", when, st, loc)
		}
	}
	routes("verified")

	// The TXT record is gone for one check: failing, still routing.
	ns.SetTXT(challenge)
	recheck(t, a.App)
	if d := getDomain(t, a.App, tok, host); d.Status != "failing" || !strings.Contains(d.LastError, "TXT "+challenge) {
		t.Fatalf("after a failed check: %+v, want failing with the TXT problem", d)
	}
	routes("after one failed check")
	// The resolver is down for another: still failing, still routing.
	ns.SetTXT(challenge, token)
	ns.SetFailing(true)
	recheck(t, a.App)
	if d := getDomain(t, a.App, tok, host); d.Status != "failing" || d.LastError == "" {
		t.Fatalf("with the resolver down: %+v, want failing", d)
	}
	routes("with the resolver down")
	// The records answer again: verified.
	ns.SetFailing(false)
	recheck(t, a.App)
	if d := getDomain(t, a.App, tok, host); d.Status != "verified" || d.LastError != "" {
		t.Fatalf("after the records answer again: %+v, want verified", d)
	}
	routes("verified again")

	// Failing for longer than the grace (the failures' start moved back
	// in the store): the next failed check unroutes the domain.
	ns.SetCNAME(host, "")
	recheck(t, a.App)
	routes("failing again")
	err := a.control.store.Update(t.Context(), func(tx control.Tx) error {
		d, err := tx.Domain(t.Context(), host)
		if err != nil {
			return err
		}
		if d.FailingSince.IsZero() {
			t.Fatalf("a failing domain without the time its failures started: %+v", d)
		}
		d.FailingSince = d.FailingSince.Add(-control.DefaultFailingGrace - time.Minute)
		return tx.UpdateDomain(t.Context(), d)
	})
	if err != nil {
		t.Fatal(err)
	}
	recheck(t, a.App)
	if d := getDomain(t, a.App, tok, host); d.Status != "pending" {
		t.Fatalf("after failing past the grace: %+v, want pending", d)
	}
	if st, _ := download(t, gw, host, "/rocket/1.tar.gz"); st != http.StatusNotFound {
		t.Fatalf("download on a domain that failed past the grace: %d, want 404", st)
	}
}

// TestDomainTakenByAnotherOrg: a custom domain belongs to one
// organization; another that adds it is told so.
func TestDomainTakenByAnotherOrg(t *testing.T) {
	a := startApp(t, testConfig(t))
	annTok, ann := adminToken(t, a.App, "ann@acme.test")
	bobTok, bob := adminToken(t, a.App, "bob@bobs.test")
	if st, body := call(t, a.App, annTok, "POST", "/api/v1/domains", map[string]any{"org": ann, "name": "get.example.org"}); st != http.StatusCreated {
		t.Fatalf("add domain = %d %s", st, body)
	}
	st, body := call(t, a.App, bobTok, "POST", "/api/v1/domains", map[string]any{"org": bob, "name": "GET.example.org"})
	if st != http.StatusConflict {
		t.Fatalf("the same domain for another organization = %d %s, want 409", st, body)
	}
	var e struct {
		Error struct{ Code, Field, Message string }
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != "conflict" || e.Error.Field != "name" || !strings.Contains(e.Error.Message, "get.example.org") {
		t.Fatalf("conflict answer %s", body)
	}
	if d := getDomain(t, a.App, annTok, "get.example.org"); d.Status != "pending" {
		t.Fatalf("the first organization's domain after the refusal: %+v", d)
	}
}

// TestAppDomain: with --app-domain, the gateway listener serves the API
// for that host, whatever its case or port, and the gateway's rules for
// every other host.
func TestAppDomain(t *testing.T) {
	cfg := testConfig(t)
	cfg.Control.AppDomain = "app.portico.test"
	a := startApp(t, cfg)
	tok, _ := adminToken(t, a.App, "ops@acme.test")
	gw := a.gw.Addr().String()
	get := func(host, path string) (int, string, []byte) {
		t.Helper()
		req, err := http.NewRequest("GET", "http://"+gw+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		req.Header.Set("Authorization", "Bearer "+tok)
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header.Get("Location"), body
	}
	for _, host := range []string{"app.portico.test", "APP.Portico.Test", "app.portico.test:8081", "app.portico.test."} {
		st, _, body := get(host, "/api/v1/me")
		if st != http.StatusOK || jsonField(t, body, "email") != "ops@acme.test" {
			t.Errorf("GET /api/v1/me for %s = %d %s, want the signed-in user", host, st, body)
		}
	}
	if st, _, body := get("app.portico.test", "/api/v1/openapi.json"); st != http.StatusOK || !strings.Contains(string(body), `"openapi"`) {
		t.Errorf("the OpenAPI document for the app domain = %d", st)
	}
	// Other hosts get the gateway: the manifest's rule, and no API.
	for _, host := range []string{"a.test", "other.test", "app.portico.test.evil.test"} {
		st, _, body := get(host, "/api/v1/me")
		if st == http.StatusOK || strings.Contains(string(body), "ops@acme.test") {
			t.Errorf("GET /api/v1/me for %s = %d %s, want the gateway's answer", host, st, body)
		}
	}
	if st, loc, _ := get("a.test", "/dl/x.tar.gz"); st != http.StatusTemporaryRedirect || loc != "https://dl.test/x.tar.gz" {
		t.Errorf("the manifest's rule beside the app domain = %d %q", st, loc)
	}
	if st, loc, _ := get("app.portico.test", "/dl/x.tar.gz"); st == http.StatusTemporaryRedirect {
		t.Errorf("the app domain serves a gateway rule: %d %q", st, loc)
	}
}

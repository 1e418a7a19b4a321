package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"portico/internal/control"
	"portico/internal/event"
)

// TestOpenAPIMatchesRoutes holds the document and the served routes
// together: every route is documented and every documented operation is
// served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	served := New(Config{}).Routes()
	slices.Sort(documented)
	slices.Sort(served)
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("%s is served but not documented", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(served, r) {
			t.Errorf("%s is documented but not served", r)
		}
	}
}

func TestSignInAndOut(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, _, err := e.svc.CreateUser(ctx, control.Operator, control.NewUser{Email: "ann@example.com", Password: "correct horse battery"}); err != nil {
		t.Fatal(err)
	}
	if a := e.call("GET", "/api/v1/me", cred{}, nil); a.status != http.StatusUnauthorized {
		t.Fatalf("me without credentials: %d", a.status)
	}
	if a := e.call("POST", "/api/v1/session", cred{}, map[string]string{"email": "ann@example.com", "password": "wrong password!"}); a.status != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d %s", a.status, a.body)
	}
	a := e.call("POST", "/api/v1/session", cred{}, map[string]string{"email": "Ann@Example.com", "password": "correct horse battery"})
	if a.status != http.StatusCreated {
		t.Fatalf("sign in: %d %s", a.status, a.body)
	}
	var cookie *http.Cookie
	for _, c := range (&http.Response{Header: a.header}).Cookies() {
		if c.Name == SessionCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || !strings.HasPrefix(cookie.Value, "ps_") {
		t.Fatalf("session cookie %+v", cookie)
	}
	sess := cred{cookie: cookie.Value}
	a = e.call("GET", "/api/v1/me", sess, nil)
	var me struct {
		Email string `json:"email"`
		Scope string `json:"scope"`
	}
	a.json(t, &me)
	if a.status != http.StatusOK || me.Email != "ann@example.com" || me.Scope != "write" {
		t.Fatalf("me: %d %s", a.status, a.body)
	}
	// The personal organization is there, owned by the user.
	var orgs list[orgJSON]
	e.call("GET", "/api/v1/orgs", sess, nil).json(t, &orgs)
	if len(orgs.Items) != 1 || orgs.Items[0].Name != "ann" || !orgs.Items[0].Personal || orgs.Items[0].Role != "owner" || orgs.Items[0].Domain != "ann."+baseDomain {
		t.Fatalf("orgs %+v", orgs)
	}
	if a := e.call("DELETE", "/api/v1/session", sess, nil); a.status != http.StatusNoContent {
		t.Fatalf("sign out: %d", a.status)
	}
	if a := e.call("GET", "/api/v1/me", sess, nil); a.status != http.StatusUnauthorized {
		t.Fatalf("me after signing out: %d", a.status)
	}
}

func TestSignInLink(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, _, err := e.svc.CreateUser(ctx, control.Operator, control.NewUser{Email: "bob@example.com"}); err != nil {
		t.Fatal(err)
	}
	link, err := e.svc.NewSignInLink(ctx, control.Operator, "bob@example.com", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if a := e.call("POST", "/api/v1/session", cred{}, map[string]string{"link": link}); a.status != http.StatusCreated {
		t.Fatalf("sign in with a link: %d %s", a.status, a.body)
	}
	if a := e.call("POST", "/api/v1/session", cred{}, map[string]string{"link": link}); a.status != http.StatusUnauthorized {
		t.Fatalf("second use of a link: %d %s", a.status, a.body)
	}
	// A user without a password cannot sign in with one.
	if a := e.call("POST", "/api/v1/session", cred{}, map[string]string{"email": "bob@example.com", "password": "anything at all"}); a.status != http.StatusUnauthorized {
		t.Fatalf("password of a user without one: %d", a.status)
	}
}

func TestSignInRateLimit(t *testing.T) {
	e := newEnv(t)
	try := func(email string) answer {
		return e.call("POST", "/api/v1/session", cred{}, map[string]string{"email": email, "password": "not the password"})
	}
	for i := range accountBurst {
		if a := try("victim@example.com"); a.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, a.status)
		}
	}
	a := try("victim@example.com")
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
		t.Fatalf("attempt past the account's burst: %d %q", a.status, a.header.Get("Retry-After"))
	}
	if code, _, _ := a.errorOf(t); code != "rate_limited" {
		t.Fatalf("code %q", code)
	}
	// Another account from the same address may still try, until the
	// address's own limit: the refused attempt took nothing from it.
	n := 0
	for ; n < 2*addressBurst; n++ {
		if a := try(fmt.Sprintf("other%d@example.com", n)); a.status == http.StatusTooManyRequests {
			break
		}
	}
	if want := addressBurst - accountBurst; n != want {
		t.Fatalf("the address was limited after %d more attempts, want %d", n, want)
	}
}

func TestCrossOriginRefused(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, _, err := e.svc.CreateUser(ctx, control.Operator, control.NewUser{Email: "ann@example.com", Password: "correct horse battery"}); err != nil {
		t.Fatal(err)
	}
	secret, _, _, err := e.svc.SignIn(ctx, "ann@example.com", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	sess := cred{cookie: secret}
	a := e.call("POST", "/api/v1/orgs", sess, map[string]any{"name": "evil"}, header("Origin", "https://evil.example"), header("Sec-Fetch-Site", "cross-site"))
	if a.status != http.StatusForbidden {
		t.Fatalf("cross-site POST: %d %s", a.status, a.body)
	}
	if code, _, _ := a.errorOf(t); code != "cross_origin" {
		t.Fatalf("code %q", code)
	}
	if _, err := e.svc.GetOrg(ctx, control.Operator, "evil"); control.KindOf(err) != control.KindNotFound {
		t.Fatalf("the refused request created the organization: %v", err)
	}
	// Reads cross origin are fine, and so are same-origin writes.
	if a := e.call("GET", "/api/v1/me", sess, nil, header("Origin", "https://evil.example"), header("Sec-Fetch-Site", "cross-site")); a.status != http.StatusOK {
		t.Fatalf("cross-site GET: %d", a.status)
	}
	if a := e.call("POST", "/api/v1/orgs", sess, map[string]any{"name": "good"}, header("Sec-Fetch-Site", "same-origin")); a.status != http.StatusCreated {
		t.Fatalf("same-origin POST: %d %s", a.status, a.body)
	}
}

func TestPackageLifecycle(t *testing.T) {
	e := newEnv(t)
	_, tok := e.user("ann@example.com", false)
	e.org(tok, "acme")
	host := "acme." + baseDomain
	id := e.pkg(tok, "acme", "rocket", fileRule(host, "/rocket"))

	var p packageJSON
	e.call("GET", "/api/v1/packages/"+id, bearer(tok), nil).json(t, &p)
	if p.Org != "acme" || p.Name != "rocket" || p.Domain != host || p.Source != "api" || p.ReadOnly || p.Role != "owner" {
		t.Fatalf("package %+v", p)
	}
	if strings.Contains(string(p.Rule), "package-id") {
		t.Fatalf("stored rule carries a package id: %s", p.Rule)
	}

	// Switching the backend keeps the id.
	rule := fileRule(host, "/rocket")
	rule["outgoing-url"] = "https://github.com/acme/rocket/releases/download/{version}/app.tar.gz"
	a := e.call("PATCH", "/api/v1/packages/"+id, bearer(tok), map[string]any{"rule": rule})
	if a.status != http.StatusOK {
		t.Fatalf("patch: %d %s", a.status, a.body)
	}
	a.json(t, &p)
	if p.ID != id || !strings.Contains(string(p.Rule), "github.com") {
		t.Fatalf("after patch %+v", p)
	}
	// The id cannot be changed through the rule.
	rule["package-id"] = "another"
	if a := e.call("PATCH", "/api/v1/packages/"+id, bearer(tok), map[string]any{"rule": rule}); a.status != http.StatusBadRequest {
		t.Fatalf("changing the id: %d %s", a.status, a.body)
	} else if _, field, _ := a.errorOf(t); field != "rule.package-id" {
		t.Fatalf("field %q", field)
	}

	// A package answering the same requests is a conflict naming it.
	a = e.call("POST", "/api/v1/packages", bearer(tok), map[string]any{"org": "acme", "name": "rocket2", "rule": fileRule(host, "/rocket")})
	if a.status != http.StatusConflict || !strings.Contains(string(a.body), id) {
		t.Fatalf("shadowing package: %d %s", a.status, a.body)
	}

	// Pages.
	for i := range 5 {
		e.pkg(tok, "acme", fmt.Sprintf("p%d", i), fileRule(host, fmt.Sprintf("/p%d", i)))
	}
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		var l list[packageJSON]
		path := "/api/v1/packages?org=acme&limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		e.call("GET", path, bearer(tok), nil).json(t, &l)
		for _, p := range l.Items {
			if seen[p.ID] {
				t.Fatalf("package %s listed twice", p.ID)
			}
			seen[p.ID] = true
		}
		if l.NextCursor == "" {
			break
		}
		if pages > 10 {
			t.Fatal("pages do not end")
		}
		cursor = l.NextCursor
	}
	if len(seen) != 6 {
		t.Fatalf("listed %d packages, want 6", len(seen))
	}

	if a := e.call("DELETE", "/api/v1/packages/"+id, bearer(tok), nil); a.status != http.StatusNoContent {
		t.Fatalf("delete: %d", a.status)
	}
	if a := e.call("GET", "/api/v1/packages/"+id, bearer(tok), nil); a.status != http.StatusNotFound {
		t.Fatalf("get after delete: %d", a.status)
	}
}

func TestTokens(t *testing.T) {
	e := newEnv(t)
	u, tok := e.user("ann@example.com", false)
	a := e.call("POST", "/api/v1/tokens", bearer(tok), map[string]any{"name": "ci", "scope": "read", "expires_in": "24h"})
	if a.status != http.StatusCreated {
		t.Fatalf("create token: %d %s", a.status, a.body)
	}
	var created tokenJSON
	a.json(t, &created)
	if !strings.HasPrefix(created.Token, "portico_") || created.Scope != "read" || created.Expires == "" {
		t.Fatalf("token %+v", created)
	}
	read := bearer(created.Token)
	if a := e.call("GET", "/api/v1/orgs", read, nil); a.status != http.StatusOK {
		t.Fatalf("read token reading: %d", a.status)
	}
	if a := e.call("POST", "/api/v1/orgs", read, map[string]any{"name": "nope"}); a.status != http.StatusForbidden {
		t.Fatalf("read token writing: %d", a.status)
	}
	if a := e.call("POST", "/api/v1/tokens", read, map[string]any{"scope": "write"}); a.status != http.StatusForbidden {
		t.Fatalf("read token making a write token: %d", a.status)
	}
	// The list never shows secrets, and shows the use.
	var l list[tokenJSON]
	e.call("GET", "/api/v1/tokens", bearer(tok), nil).json(t, &l)
	if len(l.Items) != 2 {
		t.Fatalf("tokens %+v", l)
	}
	for _, it := range l.Items {
		if it.Token != "" {
			t.Fatalf("a listed token shows its secret")
		}
		if it.ID == created.ID && it.LastUsed == "" {
			t.Fatalf("the read token's use is not recorded")
		}
	}
	if a := e.call("DELETE", "/api/v1/tokens/"+created.ID, bearer(tok), nil); a.status != http.StatusNoContent {
		t.Fatalf("revoke: %d", a.status)
	}
	if a := e.call("GET", "/api/v1/orgs", read, nil); a.status != http.StatusUnauthorized {
		t.Fatalf("revoked token: %d", a.status)
	}
	// Another user's token is not found.
	_, other := e.user("bob@example.com", false)
	if a := e.call("DELETE", "/api/v1/tokens/"+created.ID, bearer(other), nil); a.status != http.StatusNotFound {
		t.Fatalf("revoking another's token: %d", a.status)
	}
	short := e.token(u, control.ScopeWrite, time.Millisecond)
	time.Sleep(5 * time.Millisecond)
	if a := e.call("GET", "/api/v1/me", bearer(short), nil); a.status != http.StatusUnauthorized {
		t.Fatalf("expired token: %d", a.status)
	}
}

func TestStatsAndExport(t *testing.T) {
	e := newEnv(t)
	_, tok := e.user("ann@example.com", false)
	e.org(tok, "acme")
	host := "acme." + baseDomain
	id := e.pkg(tok, "acme", "rocket", fileRule(host, "/rocket"))
	other := e.pkg(tok, "acme", "skates", fileRule(host, "/skates"))
	now := time.Now().UTC()
	var batch []event.Event
	ids := event.NewIDSource()
	for i := range 30 {
		pkg := id
		if i%3 == 0 {
			pkg = other
		}
		batch = append(batch, event.Event{ID: ids.New(now), Time: now.Add(-time.Duration(i) * time.Minute), Kind: event.KindFile,
			PackageID: pkg, Domain: host, Method: "GET", Path: "/rocket/1.0/app.tar.gz", Status: 307, Outcome: event.OutcomeRedirect,
			Variables: []event.Var{{Name: "version", Value: fmt.Sprintf("1.%d", i%2)}}})
	}
	if err := e.st.Append(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	var s statsJSON
	a := e.call("GET", "/api/v1/packages/"+id+"/stats?by=version&interval=day", bearer(tok), nil)
	a.json(t, &s)
	if a.status != http.StatusOK || s.Total != 20 || len(s.Breakdown) != 2 || len(s.Series) == 0 {
		t.Fatalf("package stats: %d %s", a.status, a.body)
	}
	e.call("GET", "/api/v1/orgs/acme/stats", bearer(tok), nil).json(t, &s)
	if s.Total != 30 {
		t.Fatalf("org total %d, want 30", s.Total)
	}
	if a := e.call("GET", "/api/v1/packages/"+id+"/stats?interval=fortnight", bearer(tok), nil, invalidRequest); a.status != http.StatusBadRequest {
		t.Fatalf("bad interval: %d", a.status)
	}

	a = e.call("GET", "/api/v1/packages/"+id+"/export", bearer(tok), nil)
	lines := strings.Split(strings.TrimSpace(string(a.body)), "\n")
	if a.status != http.StatusOK || len(lines) != 20 {
		t.Fatalf("export: %d, %d lines", a.status, len(lines))
	}
	for _, l := range lines {
		var ev struct {
			PackageID string `json:"package_id"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.PackageID != id {
			t.Fatalf("exported line %s", l)
		}
	}
	if a := e.call("GET", "/api/v1/packages/"+id+"/export?after=garbage", bearer(tok), nil, invalidRequest); a.status != http.StatusBadRequest {
		t.Fatalf("bad cursor: %d %s", a.status, a.body)
	}
}

// TestDomainHTTPSOnly: a custom domain is added HTTPS only or made so,
// and back; the names under the base domain refuse the setting, which
// their packages' rules carry.
func TestDomainHTTPSOnly(t *testing.T) {
	e := newEnv(t)
	_, tok := e.user("ann@example.com", false)
	e.org(tok, "acme")
	var d domainJSON
	a := e.call("POST", "/api/v1/domains", bearer(tok), map[string]any{"org": "acme", "name": "get.acme.example", "https_only": true})
	if a.status != http.StatusCreated {
		t.Fatalf("add: %d %s", a.status, a.body)
	}
	if a.json(t, &d); !d.HTTPSOnly {
		t.Errorf("added with https_only: %+v", d)
	}
	e.domain(tok, "acme", "dl.acme.example")
	for _, on := range []bool{true, false, false} {
		a := e.call("PATCH", "/api/v1/domains/dl.acme.example", bearer(tok), map[string]any{"https_only": on})
		if a.status != http.StatusOK {
			t.Fatalf("PATCH https_only %v: %d %s", on, a.status, a.body)
		}
		e.call("GET", "/api/v1/domains/dl.acme.example", bearer(tok), nil).json(t, &d)
		if d.HTTPSOnly != on {
			t.Errorf("after PATCH https_only %v: %+v", on, d)
		}
	}
	for _, tc := range []struct {
		name  string
		body  any
		field string
	}{
		{"dl.acme.example", map[string]any{}, "https_only"},
		{"dl.acme.example", map[string]any{"https_only": "yes"}, "https_only"},
		{"acme." + baseDomain, map[string]any{"https_only": true}, "https_only"},
	} {
		a := e.call("PATCH", "/api/v1/domains/"+tc.name, bearer(tok), tc.body, invalidRequest)
		if a.status != http.StatusBadRequest {
			t.Errorf("PATCH %s %v = %d %s, want 400", tc.name, tc.body, a.status, a.body)
			continue
		}
		if _, field, _ := a.errorOf(t); field != tc.field {
			t.Errorf("PATCH %s %v: error on field %q, want %q", tc.name, tc.body, field, tc.field)
		}
	}
}

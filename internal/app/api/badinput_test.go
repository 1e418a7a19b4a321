package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"portico/internal/control"
)

// TestBadInput: every kind of bad request gets a specific message about
// the right field and the right status, never a 500, and writes nothing.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	_, tok := e.user("ann@example.com", false)
	e.org(tok, "acme")
	_, bobTok := e.user("bob@example.com", false)
	e.org(bobTok, "bobs")
	host := "acme." + baseDomain
	if a := e.call("POST", "/api/v1/domains", bearer(tok), map[string]any{"org": "acme", "name": "pending.example.com"}); a.status != http.StatusCreated {
		t.Fatalf("adding a domain: %d %s", a.status, a.body)
	}
	c := bearer(tok)
	big := `{"name":"` + strings.Repeat("a", 2<<20) + `"}`
	for _, tc := range []struct {
		name         string
		method, path string
		body         any
		status       int
		code, field  string
		message      string // a part of it
	}{
		{"unknown field", "POST", "/api/v1/orgs", `{"name":"x1","colour":"red"}`, 400, "invalid", "colour", "unknown field"},
		{"wrong type", "POST", "/api/v1/orgs", `{"name":5}`, 400, "invalid", "name", "must be a string"},
		{"wrong type nested", "POST", "/api/v1/packages", `{"org":"acme","name":"p","rule":"file-v1"}`, 400, "invalid", "rule", "JSON object"},
		{"not an object", "POST", "/api/v1/orgs", `["x"]`, 400, "invalid", "", "JSON object"},
		{"malformed", "POST", "/api/v1/orgs", `{"name":`, 400, "invalid", "", "ends in the middle"},
		{"empty", "POST", "/api/v1/orgs", ``, 400, "invalid", "", "empty"},
		{"trailing data", "POST", "/api/v1/orgs", `{"name":"x2"} {"name":"x3"}`, 400, "invalid", "", "more than one JSON value"},
		{"oversized", "POST", "/api/v1/orgs", big, 413, "invalid", "", "larger than"},
		{"missing field", "POST", "/api/v1/orgs", map[string]any{"display_name": "X"}, 400, "invalid", "name", "required"},
		{"org name with a slash", "POST", "/api/v1/orgs", map[string]any{"name": "a/b"}, 400, "invalid", "name", "'/'"},
		{"org name with a control character", "POST", "/api/v1/orgs", map[string]any{"name": "ab\x01"}, 400, "invalid", "name", "U+0001"},
		{"org name upper case", "POST", "/api/v1/orgs", map[string]any{"name": "Acme2"}, 400, "invalid", "name", "lower case"},
		{"org name taken", "POST", "/api/v1/orgs", map[string]any{"name": "bobs"}, 409, "conflict", "name", "taken"},
		{"package name with a slash", "POST", "/api/v1/packages", map[string]any{"org": "acme", "name": "acme/rocket", "rule": fileRule(host, "/r")}, 400, "invalid", "name", "'/'"},
		{"package name with a newline", "POST", "/api/v1/packages", map[string]any{"org": "acme", "name": "rock\net", "rule": fileRule(host, "/r")}, 400, "invalid", "name", "U+000A"},
		{"no rule", "POST", "/api/v1/packages", map[string]any{"org": "acme", "name": "r"}, 400, "invalid", "rule", "required"},
		{"rule of an unknown type", "POST", "/api/v1/packages", map[string]any{"org": "acme", "name": "r", "rule": map[string]any{"type": "ftp-v1", "domain": host}}, 400, "invalid", "rule.type", "unknown rule type"},
		{"rule with a bad template", "POST", "/api/v1/packages", map[string]any{"org": "acme", "name": "r", "rule": map[string]any{"type": "file-v1", "domain": host, "incoming-path": "/{v", "outgoing-url": "https://x.example/"}}, 400, "invalid", "rule.incoming-path", "{"},
		{"rule with an unknown field", "POST", "/api/v1/packages", map[string]any{"org": "acme", "name": "r", "rule": map[string]any{"type": "file-v1", "domain": host, "incoming-path": "/x", "outgoing-url": "https://x.example/", "speed": 9}}, 400, "invalid", "rule.speed", "unknown field"},
		{"rule on another organization's domain", "POST", "/api/v1/packages", map[string]any{"org": "acme", "name": "r", "rule": fileRule("bobs."+baseDomain, "/r")}, 400, "invalid", "rule.domain", "not a verified domain"},
		{"rule on a domain nobody has", "POST", "/api/v1/packages", map[string]any{"org": "acme", "name": "r", "rule": fileRule("get.example.org", "/r")}, 400, "invalid", "rule.domain", "not a verified domain"},
		{"rule on an unverified domain", "POST", "/api/v1/packages", map[string]any{"org": "acme", "name": "r", "rule": fileRule("pending.example.com", "/r")}, 400, "invalid", "rule.domain", "verify it"},
		{"unknown organization", "POST", "/api/v1/packages", map[string]any{"org": "nope", "name": "r", "rule": fileRule(host, "/r")}, 404, "not_found", "", "organization"},
		{"bad role", "PUT", "/api/v1/orgs/acme/members/bob@example.com", map[string]any{"role": "king"}, 400, "invalid", "role", "unknown role"},
		{"bad address", "PUT", "/api/v1/orgs/acme/members/not-an-address", map[string]any{"role": "member"}, 400, "invalid", "email", "not an e-mail address"},
		{"unknown user", "PUT", "/api/v1/orgs/acme/members/carol@example.com", map[string]any{"role": "member"}, 404, "not_found", "", "carol@example.com"},
		{"bad scope", "POST", "/api/v1/tokens", map[string]any{"scope": "admin"}, 400, "invalid", "scope", "read or write"},
		{"bad expiry", "POST", "/api/v1/tokens", map[string]any{"scope": "read", "expires_in": "-1h"}, 400, "invalid", "expires_in", "positive"},
		{"domain that is an address", "POST", "/api/v1/domains", map[string]any{"org": "acme", "name": "10.0.0.1"}, 400, "invalid", "name", "not an address"},
		{"domain with a port", "POST", "/api/v1/domains", map[string]any{"org": "acme", "name": "get.example.com:8080"}, 400, "invalid", "name", "without a port"},
		{"domain under the base domain", "POST", "/api/v1/domains", map[string]any{"org": "acme", "name": "x." + baseDomain}, 400, "invalid", "name", "base domain"},
		{"domain taken", "POST", "/api/v1/domains", map[string]any{"org": "bobs", "name": "pending.example.com"}, 404, "not_found", "", "organization"},
		{"bad limit", "GET", "/api/v1/orgs?limit=0", nil, 400, "invalid", "limit", "1 to 1000"},
		{"bad cursor", "GET", "/api/v1/orgs?cursor=!!!", nil, 400, "invalid", "cursor", "not a cursor"},
		{"bad stats range", "GET", "/api/v1/orgs/acme/stats?from=2026-12-01&to=2026-11-01", nil, 400, "invalid", "from", "before to"},
		{"bad stats time", "GET", "/api/v1/orgs/acme/stats?from=yesterday", nil, 400, "invalid", "from", "RFC 3339"},
		{"not JSON", "POST", "/api/v1/orgs", "name=x", 415, "invalid", "", "application/json"},
		{"unknown endpoint", "GET", "/api/v1/frobnicate", nil, 404, "not_found", "", "no such endpoint"},
		{"method not allowed", "PUT", "/api/v1/orgs", map[string]any{"name": "x"}, 405, "method_not_allowed", "", "allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := []opt{invalidRequest}
			if tc.name == "not JSON" {
				opts = append(opts, header("Content-Type", "application/x-www-form-urlencoded"))
			}
			a := e.call(tc.method, tc.path, c, tc.body, opts...)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.body)
			}
			code, field, msg := a.errorOf(t)
			if code != tc.code || field != tc.field || !strings.Contains(msg, tc.message) {
				t.Fatalf("error %q field %q message %q; want %q, %q, containing %q", code, field, msg, tc.code, tc.field, tc.message)
			}
		})
	}
	// Nothing was written by any of them.
	pkgs, err := e.svc.ListPackages(context.Background(), control.Operator, "", control.Page{})
	if err != nil || len(pkgs) != 0 {
		t.Fatalf("packages after bad requests: %v, %v", pkgs, err)
	}
	orgs, err := e.svc.ListOrgs(context.Background(), control.Operator, control.Page{})
	if err != nil || len(orgs) != 4 { // acme, bobs and the two personal ones
		t.Fatalf("organizations after bad requests: %d, %v", len(orgs), err)
	}
}

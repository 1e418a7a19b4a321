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
	pkg := e.pkg(tok, "acme", "rocket", fileRule(host, "/rocket"))
	coll := e.collection(tok, "acme", "tools")
	e.collection(tok, "acme", "tools2")
	pkgPath, collPath := "/api/v1/packages/"+pkg, "/api/v1/collections/"+coll
	before := e.snapshot(tok, "acme", pkg, coll)
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
		{"PATCH org: unknown field", "PATCH", "/api/v1/orgs/acme", `{"display_name":"A","colour":"red"}`, 400, "invalid", "colour", "unknown field"},
		{"PATCH org: wrong type", "PATCH", "/api/v1/orgs/acme", `{"display_name":5}`, 400, "invalid", "display_name", "must be a string"},
		{"PATCH org: not an object", "PATCH", "/api/v1/orgs/acme", `"acme"`, 400, "invalid", "", "JSON object"},
		{"PATCH org: name with a slash", "PATCH", "/api/v1/orgs/acme", map[string]any{"name": "a/b"}, 400, "invalid", "name", "'/'"},
		{"PATCH org: display name with a control character", "PATCH", "/api/v1/orgs/acme", map[string]any{"display_name": "A\x07"}, 400, "invalid", "display_name", "U+0007"},
		{"PATCH org: name taken", "PATCH", "/api/v1/orgs/acme", map[string]any{"name": "bobs"}, 409, "conflict", "name", "taken"},
		{"PATCH package: unknown field", "PATCH", pkgPath, `{"name":"r2","colour":"red"}`, 400, "invalid", "colour", "unknown field"},
		{"PATCH package: wrong type", "PATCH", pkgPath, `{"name":5}`, 400, "invalid", "name", "must be a string"},
		{"PATCH package: rule not an object", "PATCH", pkgPath, `{"rule":"file-v1"}`, 400, "invalid", "rule", "JSON object"},
		{"PATCH package: rule null", "PATCH", pkgPath, `{"name":"r2","rule":null}`, 400, "invalid", "rule", "required"},
		{"PATCH package: another organization", "PATCH", pkgPath, map[string]any{"org": "bobs"}, 400, "invalid", "org", "another organization"},
		{"PATCH package: name with a slash", "PATCH", pkgPath, map[string]any{"name": "a/b"}, 400, "invalid", "name", "'/'"},
		{"PATCH package: bad template", "PATCH", pkgPath, map[string]any{"name": "r2", "rule": map[string]any{"type": "file-v1", "domain": host, "incoming-path": "/{v", "outgoing-url": "https://x.example/"}}, 400, "invalid", "rule.incoming-path", "{"},
		{"PATCH package: rule with an unknown field", "PATCH", pkgPath, map[string]any{"rule": map[string]any{"type": "file-v1", "domain": host, "incoming-path": "/x", "outgoing-url": "https://x.example/", "speed": 9}}, 400, "invalid", "rule.speed", "unknown field"},
		{"PATCH package: rule field of the wrong type", "PATCH", pkgPath, map[string]any{"rule": map[string]any{"type": "file-v1", "domain": host, "incoming-path": 7, "outgoing-url": "https://x.example/"}}, 400, "invalid", "rule.incoming-path", "string"},
		{"PATCH package: rule on another organization's domain", "PATCH", pkgPath, map[string]any{"rule": fileRule("bobs."+baseDomain, "/r")}, 400, "invalid", "rule.domain", "not a verified domain"},
		{"PATCH package: unknown package", "PATCH", "/api/v1/packages/nope", map[string]any{"name": "r2"}, 404, "not_found", "", "package"},
		{"POST collection: unknown field", "POST", "/api/v1/collections", `{"org":"acme","name":"c1","colour":"red"}`, 400, "invalid", "colour", "unknown field"},
		{"POST collection: wrong type", "POST", "/api/v1/collections", `{"org":"acme","name":["c1"]}`, 400, "invalid", "name", "must be a string"},
		{"POST collection: no rule", "POST", "/api/v1/collections", map[string]any{"org": "acme", "name": "c1"}, 400, "invalid", "rule", "required"},
		{"POST collection: no name", "POST", "/api/v1/collections", map[string]any{"org": "acme", "rule": collectionRule(host, "c1/*")}, 400, "invalid", "name", "required"},
		{"POST collection: name with a slash", "POST", "/api/v1/collections", map[string]any{"org": "acme", "name": "c/1", "rule": collectionRule(host, "c1/*")}, 400, "invalid", "name", "'/'"},
		{"POST collection: bad pattern", "POST", "/api/v1/collections", map[string]any{"org": "acme", "name": "c1", "rule": collectionRule(host, "c1/{a,b")}, 400, "invalid", "rule.pattern", "{"},
		{"POST collection: template without {package}", "POST", "/api/v1/collections", map[string]any{"org": "acme", "name": "c1", "rule": fileRule(host, "/c1")}, 400, "invalid", "rule.incoming-path", "{package}"},
		{"POST collection: bad template", "POST", "/api/v1/collections", map[string]any{"org": "acme", "name": "c1", "rule": map[string]any{"type": "file-v1", "domain": host, "incoming-path": "/{package", "outgoing-url": "https://x.example/"}}, 400, "invalid", "rule.incoming-path", "{"},
		{"POST collection: rule of a kind without collections", "POST", "/api/v1/collections", map[string]any{"org": "acme", "name": "c1", "rule": map[string]any{"type": "docker-v1", "domain": host, "repository-name": "acme/x", "registry": "ghcr.io"}}, 400, "invalid", "rule.type", "docker-v2"},
		{"POST collection: rule with an unknown field", "POST", "/api/v1/collections", map[string]any{"org": "acme", "name": "c1", "rule": map[string]any{"type": "docker-v2", "domain": host, "pattern": "c1/*", "registry": "ghcr.io", "speed": 9}}, 400, "invalid", "rule.speed", "unknown field"},
		{"POST collection: unverified domain", "POST", "/api/v1/collections", map[string]any{"org": "acme", "name": "c1", "rule": collectionRule("pending.example.com", "c1/*")}, 400, "invalid", "rule.domain", "verify it"},
		{"POST collection: name taken", "POST", "/api/v1/collections", map[string]any{"org": "acme", "name": "TOOLS", "rule": collectionRule(host, "c1/*")}, 409, "conflict", "name", `collection named "tools"`},
		{"PATCH collection: name taken", "PATCH", collPath, map[string]any{"name": "Tools2"}, 409, "conflict", "name", `collection named "tools2"`},
		{"PATCH collection: unknown field", "PATCH", collPath, `{"name":"c2","colour":"red"}`, 400, "invalid", "colour", "unknown field"},
		{"PATCH collection: wrong type", "PATCH", collPath, `{"name":false}`, 400, "invalid", "name", "must be a string"},
		{"PATCH collection: another organization", "PATCH", collPath, map[string]any{"org": "bobs"}, 400, "invalid", "org", "another organization"},
		{"PATCH collection: bad pattern", "PATCH", collPath, map[string]any{"name": "c2", "rule": collectionRule(host, "tools/{a,b")}, 400, "invalid", "rule.pattern", "{"},
		{"PATCH collection: rule on another organization's domain", "PATCH", collPath, map[string]any{"name": "c2", "rule": collectionRule("bobs."+baseDomain, "tools/*")}, 400, "invalid", "rule.domain", "not a verified domain"},
		{"bad role", "PUT", "/api/v1/orgs/acme/members/bob@example.com", map[string]any{"role": "king"}, 400, "invalid", "role", "unknown role"},
		{"bad address", "PUT", "/api/v1/orgs/acme/members/not-an-address", map[string]any{"role": "member"}, 400, "invalid", "email", "not an e-mail address"},
		{"unknown user", "PUT", "/api/v1/orgs/acme/members/carol@example.com", map[string]any{"role": "member"}, 404, "not_found", "", "carol@example.com"},
		{"bad scope", "POST", "/api/v1/tokens", map[string]any{"scope": "admin"}, 400, "invalid", "scope", "read or write"},
		{"bad expiry", "POST", "/api/v1/tokens", map[string]any{"scope": "read", "expires_in": "-1h"}, 400, "invalid", "expires_in", "positive"},
		{"domain that is an address", "POST", "/api/v1/domains", map[string]any{"org": "acme", "name": "10.0.0.1"}, 400, "invalid", "name", "not an address"},
		{"domain with a port", "POST", "/api/v1/domains", map[string]any{"org": "acme", "name": "get.example.com:8080"}, 400, "invalid", "name", "without a port"},
		{"domain under the base domain", "POST", "/api/v1/domains", map[string]any{"org": "acme", "name": "x." + baseDomain}, 400, "invalid", "name", "base domain"},
		{"domain of an organization one cannot read", "POST", "/api/v1/domains", map[string]any{"org": "bobs", "name": "other.example.com"}, 404, "not_found", "", "organization"},
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
	if after := e.snapshot(tok, "acme", pkg, coll); after != before {
		t.Fatalf("bad requests changed what was there:\n%s\nbefore:\n%s", after, before)
	}
	pkgs, err := e.svc.ListPackages(context.Background(), control.Operator, "", control.Page{})
	if err != nil || len(pkgs) != 1 {
		t.Fatalf("packages after bad requests: %v, %v", pkgs, err)
	}
	colls, err := e.svc.ListCollections(context.Background(), control.Operator, "", control.Page{})
	if err != nil || len(colls) != 2 {
		t.Fatalf("collections after bad requests: %v, %v", colls, err)
	}
	orgs, err := e.svc.ListOrgs(context.Background(), control.Operator, control.Page{})
	if err != nil || len(orgs) != 4 { // acme, bobs and the two personal ones
		t.Fatalf("organizations after bad requests: %d, %v", len(orgs), err)
	}
}

func collectionRule(host, pattern string) map[string]any {
	return map[string]any{"type": "docker-v2", "domain": host, "pattern": pattern, "registry": "ghcr.io"}
}

// snapshot is what the API answers for an organization, a package and a
// collection, for comparing before and after requests that must change
// nothing.
func (e *env) snapshot(tok, org, pkg, coll string) string {
	e.t.Helper()
	var b strings.Builder
	for _, path := range []string{"/api/v1/orgs/" + org, "/api/v1/packages/" + pkg, "/api/v1/collections/" + coll} {
		a := e.call("GET", path, bearer(tok), nil)
		if a.status != http.StatusOK {
			e.t.Fatalf("%s: %d %s", path, a.status, a.body)
		}
		b.Write(a.body)
	}
	return b.String()
}

package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func dockerRule(host, repo, registry string) map[string]any {
	return map[string]any{"type": "docker-v1", "domain": host, "repository-name": repo, "registry": registry}
}

// TestSecondRegistryRefused: registry clients ask one host one
// registry, so a package that would add a second registry to a docker
// domain is refused, naming the package that serves the first, and
// nothing changes.
func TestSecondRegistryRefused(t *testing.T) {
	e := newEnv(t)
	_, tok := e.user("ann@example.com", false)
	e.org(tok, "acme")
	acme := "acme." + baseDomain
	c := bearer(tok)
	rocket := e.pkg(tok, "acme", "rocket", dockerRule(acme, "acme/rocket", "ghcr.io"))
	refused := func(what string, a answer, other string) {
		t.Helper()
		refusedRegistry(t, what, a, other)
	}
	rocketNamed := fmt.Sprintf(`package "rocket" (%s) serves docker images from https://ghcr.io on %s`, rocket, acme)

	// Creating a package, or changing one, onto another registry.
	refused("a package on another registry",
		e.call("POST", "/api/v1/packages", c, map[string]any{"org": "acme", "name": "skates", "rule": dockerRule(acme, "acme/skates", "registry-1.docker.io")}),
		rocketNamed)
	skates := e.pkg(tok, "acme", "skates", dockerRule(acme, "acme/skates", "ghcr.io"))
	refused("a package changed to another registry",
		e.call("PATCH", "/api/v1/packages/"+skates, c, map[string]any{"rule": dockerRule(acme, "acme/skates", "quay.io")}),
		rocketNamed)
	var p packageJSON
	e.call("GET", "/api/v1/packages/"+skates, c, nil).json(t, &p)
	if !strings.Contains(string(p.Rule), `"ghcr.io"`) {
		t.Fatalf("the refused change was written: %s", p.Rule)
	}
	// Other kinds of rule share the domain freely.
	e.pkg(tok, "acme", "tarball", fileRule(acme, "/tarball"))

	var l list[packageJSON]
	e.call("GET", "/api/v1/packages", c, nil).json(t, &l)
	if len(l.Items) != 3 {
		t.Fatalf("%d packages after the refusals, want rocket, skates and tarball", len(l.Items))
	}
}

// refusedRegistry checks that a is the refusal of a second registry on
// a docker domain, naming other.
func refusedRegistry(t *testing.T, what string, a answer, other string) {
	t.Helper()
	if a.status != http.StatusConflict {
		t.Fatalf("%s: %d %s, want 409", what, a.status, a.body)
	}
	code, field, msg := a.errorOf(t)
	if code != "conflict" || field != "rule.registry" {
		t.Fatalf("%s: error %q on %q, want conflict on rule.registry", what, code, field)
	}
	for _, part := range []string{other, "one host has one registry"} {
		if !strings.Contains(msg, part) {
			t.Fatalf("%s: message %q does not say %q", what, msg, part)
		}
	}
}

func dockerCollectionRule(host, pattern, registry string) map[string]any {
	return map[string]any{"type": "docker-v2", "domain": host, "pattern": pattern, "registry": registry}
}

// TestCollectionRegistryRefused: a collection creates packages on its
// domain, so it may not bring a second registry to a docker domain, nor
// may a package join a collection's domain with another registry.
func TestCollectionRegistryRefused(t *testing.T) {
	e := newEnv(t)
	_, tok := e.user("ann@example.com", false)
	e.org(tok, "acme")
	e.org(tok, "beta")
	acme, beta := "acme."+baseDomain, "beta."+baseDomain
	c := bearer(tok)
	rocket := e.pkg(tok, "acme", "rocket", dockerRule(acme, "acme/rocket", "ghcr.io"))

	refusedRegistry(t, "a collection on another registry",
		e.call("POST", "/api/v1/collections", c, map[string]any{"org": "acme", "name": "images", "rule": dockerCollectionRule(acme, "tools/*", "quay.io")}),
		fmt.Sprintf(`package "rocket" (%s) serves docker images from https://ghcr.io on %s`, rocket, acme))
	e.collection(tok, "acme", "same") // the same registry is welcome

	tools := e.collection(tok, "beta", "tools")
	toolsNamed := fmt.Sprintf(`collection "tools" (%s) serves docker images from https://ghcr.io on %s`, tools, beta)
	refusedRegistry(t, "a package on a collection's domain with another registry",
		e.call("POST", "/api/v1/packages", c, map[string]any{"org": "beta", "name": "hub", "rule": dockerRule(beta, "beta/hub", "registry-1.docker.io")}),
		toolsNamed)
	more := e.collection(tok, "beta", "more")
	refusedRegistry(t, "a collection changed to another registry",
		e.call("PATCH", "/api/v1/collections/"+more, c, map[string]any{"rule": dockerCollectionRule(beta, "more/*", "quay.io")}),
		toolsNamed)
	// A collection answering exactly what another answers is refused too.
	a := e.call("POST", "/api/v1/collections", c, map[string]any{"org": "beta", "name": "again", "rule": dockerCollectionRule(beta, "tools/*", "ghcr.io")})
	if _, _, msg := a.errorOf(t); a.status != http.StatusConflict || !strings.Contains(msg, tools) {
		t.Fatalf("a collection with the pattern of another: %d %s, want 409 naming %s", a.status, a.body, tools)
	}

	var cl list[collectionJSON]
	e.call("GET", "/api/v1/collections", c, nil).json(t, &cl)
	if len(cl.Items) != 3 {
		t.Fatalf("%d collections after the refusals, want same, tools and more", len(cl.Items))
	}
	for _, it := range cl.Items {
		if strings.Contains(string(it.Rule), "quay.io") {
			t.Fatalf("a refused collection rule was written: %s", it.Rule)
		}
	}
	var l list[packageJSON]
	e.call("GET", "/api/v1/packages", c, nil).json(t, &l)
	if len(l.Items) != 1 {
		t.Fatalf("%d packages after the refusals, want rocket alone", len(l.Items))
	}
}

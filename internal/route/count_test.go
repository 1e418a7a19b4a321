package route

import (
	"testing"

	"portico/internal/manifest"
)

// TestRulesCountsManifestRules: rules that compile into one shared handler
// (a domain's docker, Python and npm rules) still count one each, so the
// table reports what the manifest holds.
func TestRulesCountsManifestRules(t *testing.T) {
	data := []byte(`{"rules": [
	 {"type": "docker-v1", "domain": "cr.test", "package-id": "a", "repository-name": "acme/a", "registry": "ghcr.io"},
	 {"type": "docker-v1", "domain": "cr.test", "package-id": "b", "repository-name": "acme/a", "registry": "ghcr.io"},
	 {"type": "docker-v2", "domain": "cr.test", "pattern": "acme/*", "rule-id": "c", "registry": "ghcr.io"},
	 {"type": "python-v1", "domain": "py.test", "package-name": "x", "file-name": "x-1.tar.gz", "version": "1", "backend-url": "https://f.test/x-1.tar.gz", "package-id": "py"},
	 {"type": "python-index-v1", "domain": "py.test", "package-name": "acme-*", "package-id": "pi"},
	 {"type": "npm-v1", "domain": "npm.test", "package-name": "a", "package-id": "n1"},
	 {"type": "npm-v1", "domain": "npm.test", "package-name": "b", "package-id": "n2"},
	 {"type": "file-v1", "domain": "get.test", "incoming-path": "/x", "outgoing-url": "https://a.test/x", "package-id": "f"},
	 {"type": "pixel-v1", "domain": "get.test"}
	]}`)
	m, err := manifest.Decode("m.json", data)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := Compile(m, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	if tbl.Rules() != len(m.Rules) || tbl.Domains() != m.Domains() {
		t.Errorf("table counts %d rules, %d domains; the manifest has %d and %d", tbl.Rules(), tbl.Domains(), len(m.Rules), m.Domains())
	}
}

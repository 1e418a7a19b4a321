package route

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"portico/internal/control"
	"portico/internal/manifest"
)

func storedPackage(t *testing.T, id, rule string) control.HostRule {
	t.Helper()
	c := &Checker{}
	cr, err := c.CheckRule("rule", json.RawMessage(rule))
	if err != nil {
		t.Fatal(err)
	}
	return control.HostRule{Kind: "package", ID: id, Name: "n-" + id, Rule: cr.Canonical}
}

// TestHostCheck: a candidate is refused for the first rule of its host,
// in order (the manifest's, the stored packages, then the candidates
// accepted before it), that it conflicts with; HostCheck and CheckHost
// agree on every candidate.
func TestHostCheck(t *testing.T) {
	const host = "get.example.org"
	file := func(path, target string) string {
		return fmt.Sprintf(`{"type":"file-v1","domain":%q,"incoming-path":%q,"outgoing-url":"https://%s/x"}`, host, path, target)
	}
	docker := func(repo, registry string) string {
		return fmt.Sprintf(`{"type":"docker-v1","domain":%q,"repository-name":%q,"registry":%q}`, host, repo, registry)
	}
	others := decodeRules(t, "m.json", `{"rules":[`+strings.Replace(file("/m", "a.example.net"), `}`, `,"package-id":"m0"}`, 1)+`]}`)
	c := &Checker{Others: func(h string) []manifest.Rule {
		if h == host {
			return others
		}
		return nil
	}}
	stored := []control.HostRule{
		storedPackage(t, "s1", docker("acme/one", "ghcr.io")),
		storedPackage(t, "s2", file("/s", "b.example.net")),
	}
	check, err := c.HostCheck(host, stored)
	if err != nil {
		t.Fatal(err)
	}
	accepted := append([]control.HostRule(nil), stored...)
	for _, tc := range []struct {
		id, rule string
		want     string // "" accepted; else the error's field and who it names
	}{
		{"c1", file("/m", "c.example.net"), `rule: the manifest's rules[0] (file-v1) answers exactly the same requests`},
		{"c2", file("/s", "c.example.net"), `rule: package "n-s2" (s2) answers exactly`},
		{"c3", file("/c", "c.example.net"), ""},
		{"c4", file("/c", "d.example.net"), `rule: package "n-c3" (c3) answers exactly`},
		{"c5", docker("acme/two", "quay.io"), `rule.registry: package "n-s1" (s1) serves docker images from https://ghcr.io`},
		{"c6", docker("acme/one", "quay.io"), `rule.registry: package "n-s1" (s1) serves docker images from https://ghcr.io`},
		{"c7", docker("acme/one", "ghcr.io"), `rule: package "n-s1" (s1) answers exactly`},
		{"c8", docker("acme/two", "ghcr.io"), ""},
		{"c9", docker("acme/two", "ghcr.io"), `rule: package "n-c8" (c8) answers exactly`},
	} {
		pkg := storedPackage(t, tc.id, tc.rule)
		err := check(pkg)
		// CheckHost, over the same rules with the candidate last, must
		// say the same.
		if other := c.CheckHost(host, append(accepted[:len(accepted):len(accepted)], pkg)); fmt.Sprint(other) != fmt.Sprint(err) {
			t.Errorf("%s: HostCheck says %v, CheckHost %v", tc.id, err, other)
		}
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v, want it accepted", tc.id, err)
			}
			accepted = append(accepted, pkg)
			continue
		}
		if e, ok := err.(*control.Error); !ok || e.Kind != control.KindConflict || !strings.HasPrefix(e.Error(), tc.want) {
			t.Errorf("%s: %v, want a conflict %q", tc.id, err, tc.want)
		}
	}
}

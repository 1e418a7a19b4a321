package cli_test

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"portico/internal/control"
	"portico/internal/manifest"
)

const example = "../../examples/manifest.json"

// rulesByID decodes a manifest and returns each rule, encoded as a
// manifest holds it, by its package id (a docker-v2 rule's rule id).
// Two manifests with equal maps serve the same rules under the same ids.
func rulesByID(t *testing.T, path string) map[string]string {
	t.Helper()
	m, err := manifest.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range m.Rules {
		delete(r.Common().Extensions, control.NameExtension)
		data, err := manifest.EncodeRule(r)
		if err != nil {
			t.Fatal(err)
		}
		id := manifest.PackageID(r)
		if _, dup := out[id]; dup {
			t.Fatalf("%s: two rules with the id %q", path, id)
		}
		out[id] = string(data)
	}
	return out
}

// packages returns the store's packages as id → name, host and rule.
func (s *site) packages() map[string]string {
	s.t.Helper()
	pkgs, err := s.service("").ExportPackages(s.t.Context(), control.Operator, "")
	if err != nil {
		s.t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range pkgs {
		out[p.ID] = p.Org + " " + p.Name + " " + p.Host + " " + string(p.Rule)
	}
	return out
}

func TestImportExportRoundTrip(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		s.must(password, "users", "add", "admin@example.org", "--admin")
		out, _ := s.must("", "import", "--manifest", example, "--org", "user-admin", "--add-domains")
		if !strings.Contains(out, `imported 12 package(s) into organization "user-admin"`) || strings.Count(out, "added, verified") != 6 {
			t.Errorf("import said:\n%s", out)
		}
		// A package of the API, whose name is not its id, goes through
		// the round trip too.
		svc := s.service("")
		api, err := svc.CreatePackage(t.Context(), control.Operator, control.NewPackage{Org: "user-admin", Name: "nightly",
			Rule: json.RawMessage(`{"type":"file-v1","domain":"get.acme.example","incoming-path":"/nightly/{f}","outgoing-url":"https://ci.acme.example/{f}","x-team":"build"}`)})
		if err != nil {
			t.Fatal(err)
		}

		exported := filepath.Join(t.TempDir(), "exported.json")
		_, errOut := s.must("", "export", "--org", "user-admin", "-o", exported)
		if !strings.Contains(errOut, "exported 13 package(s)") {
			t.Errorf("export said:\n%s", errOut)
		}
		if code, out, errOut := runCLI(t, nil, "check", "--manifest", exported); code != 0 || !strings.Contains(out, "ok (13 rules, 6 domains)") {
			t.Errorf("check of the exported manifest: exit %d\n%s%s", code, out, errOut)
		}
		got, want := rulesByID(t, exported), rulesByID(t, example)
		for id, rule := range want {
			if got[id] != rule {
				t.Errorf("rule %s:\nexported %s\nimported %s", id, got[id], rule)
			}
		}
		if len(got) != len(want)+1 || !strings.Contains(got[api.ID], `"x-team":"build"`) {
			t.Errorf("exported rules %v: want the example's and the API package %s with its extension", got, api.ID)
		}
		data, _ := os.ReadFile(exported)
		if n := strings.Count(string(data), control.NameExtension); n != 1 || !strings.Contains(string(data), `"x-portico-name": "nightly"`) {
			t.Errorf("the exported manifest names %d package(s), want only the one whose name is not its id:\n%s", n, data)
		}
		// Standard output, the default, holds the same manifest.
		out, _ = s.must("", "export", "--org", "user-admin")
		if out != string(data) {
			t.Errorf("export to standard output differs from export -o")
		}

		// Imported into a fresh store, the export makes the same
		// packages.
		before := s.packages()
		fresh := &site{t: t, args: []string{"--data", filepath.Join(t.TempDir(), "fresh")}}
		fresh.loc.Data = fresh.args[1]
		fresh.must(password, "users", "add", "admin@example.org", "--admin")
		fresh.must("", "import", "--manifest", exported, "--org", "user-admin", "--add-domains")
		after := fresh.packages()
		if len(after) != len(before) {
			t.Errorf("%d packages after importing the export, want %d", len(after), len(before))
		}
		for id, p := range before {
			if after[id] != p {
				t.Errorf("package %s:\nimported again %s\nwant          %s", id, after[id], p)
			}
		}
		again := filepath.Join(t.TempDir(), "again.json")
		fresh.must("", "export", "-o", again)
		if b, _ := os.ReadFile(again); string(b) != string(data) {
			t.Errorf("the second export differs from the first:\n%s\nwant\n%s", b, data)
		}
	})
}

// writeManifest writes a manifest for a test and returns its path.
func writeManifest(t *testing.T, rules ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "m.json")
	if err := os.WriteFile(path, []byte(`{"rules":[`+strings.Join(rules, ",\n")+`]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestImportRefusals(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		s.must(password, "users", "add", "admin@example.org", "--admin")
		s.must(password, "users", "add", "other@example.org")
		s.must("", "domains", "add", "get.example.org", "--org", "user-admin", "--verified")
		s.must("", "domains", "add", "theirs.example.org", "--org", "other", "--verified")
		s.must("", "domains", "add", "pending.example.org", "--org", "user-admin")
		good := `{"type":"file-v1","domain":"get.example.org","incoming-path":"/a/{v}","outgoing-url":"https://files.example.net/a/{v}","package-id":"a"}`
		s.must("", "import", "--manifest", writeManifest(t, good), "--org", "user-admin")
		base := s.packages()

		s.fails(2, "--org is required", "", "import", "--manifest", example)
		s.fails(2, "--manifest is required", "", "import", "--org", "user-admin")
		s.fails(1, `organization "nobody" not found`, "", "import", "--manifest", example, "--org", "nobody")
		s.fails(1, "no such file or directory", "", "import", "--manifest", filepath.Join(t.TempDir(), "none.json"), "--org", "user-admin")

		for _, tc := range []struct {
			name  string
			rules []string
			flags []string
			want  []string
		}{
			{"bad rule", []string{
				`{"type":"file-v1","domain":"get.example.org","incoming-path":"/b/{v","outgoing-url":"https://files.example.net/{v}","package-id":"b"}`,
				`{"type":"file-v1","domain":"new.example.org","incoming-path":"/c","outgoing-url":"https://files.example.net/c","package-id":"c"}`,
			}, []string{"--add-domains"}, []string{"rules[0] (file-v1): incoming-path: unclosed '{' at column 4", "1 problem(s); nothing was imported"}},
			{"id taken", []string{good}, nil, []string{`rules[0] (file-v1): package-id: "a" is the id of package "a" of organization "user-admin" already`}},
			{"ids alike", []string{
				`{"type":"file-v1","domain":"get.example.org","incoming-path":"/d","outgoing-url":"https://files.example.net/d","package-id":"d"}`,
				`{"type":"docker-v2","domain":"get.example.org","pattern":"acme/*","registry":"ghcr.io","rule-id":"d"}`,
			}, nil, []string{`rules[1] (docker-v2): rule-id: "d" is also the id of rules[0]`}},
			{"id with a slash", []string{
				`{"type":"file-v1","domain":"get.example.org","incoming-path":"/e","outgoing-url":"https://files.example.net/e","package-id":"team/e"}`,
			}, nil, []string{`rules[0] (file-v1): package-id: "team/e" cannot be a package's id in the store: '/' at offset 4 is not allowed`}},
			{"shadow", []string{
				`{"type":"file-v1","domain":"get.example.org","incoming-path":"/f","outgoing-url":"https://files.example.net/f","package-id":"f"}`,
				`{"type":"file-v1","domain":"get.example.org","incoming-path":"/a/{v}","outgoing-url":"https://mirror.example.net/{v}","package-id":"g"}`,
			}, nil, []string{`rules[1] (file-v1): package "a" (a) answers exactly the same requests on get.example.org`}},
			{"two registries", []string{
				`{"type":"docker-v1","domain":"get.example.org","repository-name":"acme/one","registry":"ghcr.io","package-id":"h"}`,
				`{"type":"docker-v1","domain":"get.example.org","repository-name":"acme/two","registry":"quay.io","package-id":"i"}`,
			}, nil, []string{`rules[1] (docker-v1): registry: package "h" (h) serves docker images from https://ghcr.io on get.example.org`}},
			{"domains", []string{
				`{"type":"file-v1","domain":"new.example.org","incoming-path":"/j","outgoing-url":"https://files.example.net/j","package-id":"j"}`,
				`{"type":"file-v1","domain":"theirs.example.org","incoming-path":"/k","outgoing-url":"https://files.example.net/k","package-id":"k"}`,
				`{"type":"file-v1","domain":"pending.example.org","incoming-path":"/l","outgoing-url":"https://files.example.net/l","package-id":"l"}`,
				`{"type":"file-v1","domain":"new.example.org","incoming-path":"/m","outgoing-url":"https://files.example.net/m","package-id":"m"}`,
			}, nil, []string{
				`rules[0] (file-v1): domain: "new.example.org" (and 1 more rule(s)) is not a domain of organization "user-admin": no organization has it`,
				`rules[1] (file-v1): domain: "theirs.example.org" belongs to organization "other", not "user-admin"`,
				`rules[2] (file-v1): domain: "pending.example.org" is a domain of organization "user-admin" that is pending`,
				"3 problem(s); nothing was imported",
				`or import with --add-domains`,
			}},
			{"domains added, but another is not theirs", []string{
				`{"type":"file-v1","domain":"new.example.org","incoming-path":"/j","outgoing-url":"https://files.example.net/j","package-id":"j"}`,
				`{"type":"file-v1","domain":"theirs.example.org","incoming-path":"/k","outgoing-url":"https://files.example.net/k","package-id":"k"}`,
			}, []string{"--add-domains"}, []string{`rules[1] (file-v1): domain: "theirs.example.org" belongs to organization "other"`}},
			{"name", []string{
				`{"type":"file-v1","domain":"get.example.org","incoming-path":"/n","outgoing-url":"https://files.example.net/n","package-id":"n","x-portico-name":"a"}`,
				`{"type":"file-v1","domain":"get.example.org","incoming-path":"/o","outgoing-url":"https://files.example.net/o","package-id":"o","x-portico-name":"-o"}`,
				`{"type":"file-v1","domain":"get.example.org","incoming-path":"/p","outgoing-url":"https://files.example.net/p","package-id":"p","x-portico-name":7}`,
			}, nil, []string{
				`rules[2] (file-v1): x-portico-name: must be a package name in a string`,
			}},
			{"names", []string{
				`{"type":"file-v1","domain":"get.example.org","incoming-path":"/n","outgoing-url":"https://files.example.net/n","package-id":"n","x-portico-name":"a"}`,
				`{"type":"file-v1","domain":"get.example.org","incoming-path":"/o","outgoing-url":"https://files.example.net/o","package-id":"o","x-portico-name":"-o"}`,
			}, nil, []string{
				`rules[0] (file-v1): x-portico-name: organization "user-admin" has a package named "a" already`,
				`rules[1] (file-v1): x-portico-name: '-' at offset 0`,
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				path := writeManifest(t, tc.rules...)
				for _, flags := range [][]string{tc.flags, append(tc.flags, "--dry-run")} {
					code, out, errOut := s.run("", append([]string{"import", "--manifest", path, "--org", "user-admin"}, flags...)...)
					if code != 1 || out != "" {
						t.Errorf("import %v: exit %d, stdout %q; want 1 and nothing", flags, code, out)
					}
					for _, w := range tc.want {
						if strings.HasPrefix(w, "rules[") {
							// Located as "portico check" locates.
							w = path + ": " + w
						}
						if !strings.Contains(errOut, w) {
							t.Errorf("import %v: the problems do not include %q:\n%s", flags, w, errOut)
						}
					}
				}
				if got := s.packages(); !mapsEqual(got, base) {
					t.Errorf("a refused import changed the packages: %v, want %v", got, base)
				}
				svc := s.service("")
				ds, _ := svc.ListDomains(t.Context(), control.Operator, "", control.Page{})
				if slices.ContainsFunc(ds, func(d control.DomainView) bool { return d.Name == "new.example.org" }) {
					t.Error("a refused import added a domain")
				}
			})
		}

		// A dry run of a good import says what it would do, and does
		// nothing.
		more := writeManifest(t, `{"type":"pixel-v1","domain":"px.example.org"}`)
		out, _ := s.must("", "import", "--manifest", more, "--org", "user-admin", "--add-domains", "--dry-run")
		if !strings.Contains(out, "would import (dry run, nothing written) 1 package(s)") || !strings.Contains(out, "domain px.example.org added") {
			t.Errorf("dry run said:\n%s", out)
		}
		if got := s.packages(); !mapsEqual(got, base) {
			t.Errorf("a dry run changed the packages: %v", got)
		}
		// A rule without a package-id gets a new id, and a name after
		// its type and domain.
		s.must("", "import", "--manifest", more, "--org", "user-admin", "--add-domains")
		got := s.packages()
		if len(got) != len(base)+1 {
			t.Fatalf("packages after importing a pixel rule: %v", got)
		}
		for id, p := range got {
			if _, ok := base[id]; !ok && (!control.IsUUID(id) || !strings.HasPrefix(p, "user-admin pixel-px.example.org px.example.org ")) {
				t.Errorf("the pixel rule became package %s: %s", id, p)
			}
		}
	})
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestImportName(t *testing.T) {
	for _, tc := range []struct{ id, typ, host, want string }{
		{"rocket-skates", "file-v1", "get.acme.dev", "rocket-skates"},
		{"pkg skates?", "file-v1", "get.acme.dev", "pkg-skates"},
		{"@acme:skates", "npm-v1", "npm.acme.dev", "acme-skates"},
		{"_x", "file-v1", "get.acme.dev", "x"},
		{"???", "file-v1", "get.acme.dev", "package"},
		{"0b5d7e0c-8f2a-4b7e-9a51-3c2d1e0f9a8b", "pixel-v1", "static.acme.dev", "pixel-static.acme.dev"},
		{"0b5d7e0c-8f2a-4b7e-9a51-3c2d1e0f9a8b", "docker-v2", "cr.acme.dev", "docker-v2-cr.acme.dev"},
	} {
		got := control.ImportName(tc.id, tc.typ, tc.host)
		if got != tc.want || control.CheckPackageName(got) != nil {
			t.Errorf("ImportName(%q, %q, %q) = %q, want %q (a valid name)", tc.id, tc.typ, tc.host, got, tc.want)
		}
	}
}

// TestImportIDPackage: a rule whose id is literally "package" keeps it,
// as any other id is kept, through import and export.
func TestImportIDPackage(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		s.must(password, "users", "add", "admin@example.org", "--admin")
		path := writeManifest(t,
			`{"type":"file-v1","domain":"get.example.org","incoming-path":"/p/{v}","outgoing-url":"https://files.example.net/p/{v}","package-id":"package"}`,
			`{"type":"docker-v2","domain":"cr.example.org","pattern":"acme/*","registry":"ghcr.io","rule-id":"package-2"}`,
			`{"type":"docker-v1","domain":"cr2.example.org","repository-name":"acme/one","registry":"ghcr.io","package-id":"package"}`,
		)
		s.fails(1, `rules[2] (docker-v1): package-id: "package" is also the id of rules[0]`, "", "import", "--manifest", path, "--org", "user-admin", "--add-domains")
		path = writeManifest(t,
			`{"type":"file-v1","domain":"get.example.org","incoming-path":"/p/{v}","outgoing-url":"https://files.example.net/p/{v}","package-id":"package"}`,
			`{"type":"docker-v2","domain":"cr.example.org","pattern":"acme/*","registry":"ghcr.io","rule-id":"package-2"}`,
		)
		s.must("", "import", "--manifest", path, "--org", "user-admin", "--add-domains")
		pkgs := s.packages()
		if _, ok := pkgs["package"]; !ok || len(pkgs) != 2 {
			t.Errorf("packages after import: %v, want the ids package and package-2", pkgs)
		}
		exported := filepath.Join(t.TempDir(), "exported.json")
		s.must("", "export", "-o", exported)
		got := rulesByID(t, exported)
		if _, ok := got["package"]; !ok {
			t.Errorf("exported ids %v, want package among them", slices.Collect(maps.Keys(got)))
		}
	})
}

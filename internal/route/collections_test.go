package route

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"portico/internal/clientip"
	"portico/internal/control"
	"portico/internal/event"
	"portico/internal/gateway"
	"portico/internal/manifest"
)

// events records what the router emits.
type events []event.Event

func (e *events) Emit(ev event.Event) { *e = append(*e, ev) }

// collected records what the router hands its collector.
type collected []gateway.Collected

func (c *collected) Collect(x gateway.Collected) { *c = append(*c, x) }

func decodeCollection(t testing.TB, id, rule string) Collection {
	t.Helper()
	r, err := manifest.DecodeRule("store", []byte(rule), id)
	if err != nil {
		t.Fatal(err)
	}
	return Collection{ID: id, Rule: r}
}

// TestCollections: collections serve what no rule of their domain
// serves, after every rule of it whatever its source (but catch-all-v1),
// count each download under the derived package id and hand the
// downloads, and only those, to the collector.
func TestCollections(t *testing.T) {
	rules := decodeRules(t, "m.json", `{"rules":[
	 {"type":"docker-v1","domain":"c.test","package-id":"named","repository-name":"acme/named","registry":"reg.test"},
	 {"type":"docker-v2","domain":"c.test","rule-id":"explicit","pattern":"acme/v2-*","registry":"reg.test"},
	 {"type":"file-v1","domain":"c.test","incoming-path":"/tools/{version}.tar.gz","outgoing-url":"https://tools.test/{version}.tar.gz","package-id":"tools"},
	 {"type":"catch-all-v1","domain":"c.test","package-id":"rest","redirect-target-domain":"rest.test"}]}`)
	colls := []Collection{
		decodeCollection(t, "coll-file", `{"type":"file-v1","domain":"c.test","incoming-path":"/{package}/{version}.tar.gz","outgoing-url":"https://dl.test/{+package}/{version}.tar.gz"}`),
		decodeCollection(t, "coll-img", `{"type":"docker-v2","domain":"c.test","pattern":"acme/*","registry":"reg.test"}`),
		decodeCollection(t, "coll-hub", `{"type":"docker-v2","domain":"hub.test","pattern":"library/*","registry":"registry-1.docker.io"}`),
	}
	// The collections come first here: their place is still last.
	tbl, err := CompileSets(testOptions(t), RuleSet{Name: "store", Collections: colls}, RuleSet{Name: "manifest", Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	if tbl.Rules() != 7 || tbl.Domains() != 2 {
		t.Errorf("%d rules on %d domains, want 7 on 2", tbl.Rules(), tbl.Domains())
	}
	trusted, _ := clientip.ParseTrusted("")
	id := gateway.CollectionPackageID
	for _, tc := range []struct {
		method, host, path string
		status             int
		location           string
		pkg, rule          string
		collect            bool // handed to the collector
	}{
		{"GET", "c.test", "/v2/acme/named/manifests/1", 307, "https://reg.test/v2/acme/named/manifests/1", "named", "", false},
		{"GET", "c.test", "/v2/acme/v2-x/manifests/1", 307, "https://reg.test/v2/acme/v2-x/manifests/1", "", "explicit", false},
		{"GET", "c.test", "/v2/acme/rocket/manifests/1", 307, "https://reg.test/v2/acme/rocket/manifests/1", id("coll-img", "acme/rocket"), "coll-img", true},
		// Not pulls: counted under the package, but no reason to create it.
		{"HEAD", "c.test", "/v2/acme/rocket/manifests/1", 307, "https://reg.test/v2/acme/rocket/manifests/1", id("coll-img", "acme/rocket"), "coll-img", false},
		{"GET", "c.test", "/v2/acme/rocket/blobs/sha256:" + strings.Repeat("a", 64), 307, "https://reg.test/v2/acme/rocket/blobs/sha256:" + strings.Repeat("a", 64), id("coll-img", "acme/rocket"), "coll-img", false},
		{"GET", "hub.test", "/v2/alpine/manifests/3", 307, "https://registry-1.docker.io/v2/library/alpine/manifests/3", id("coll-hub", "library/alpine"), "coll-hub", true},
		{"GET", "c.test", "/tools/1.tar.gz", 307, "https://tools.test/1.tar.gz", "tools", "", false},
		{"GET", "c.test", "/rocket/1.tar.gz", 307, "https://dl.test/rocket/1.tar.gz", id("coll-file", "rocket"), "coll-file", true},
		{"HEAD", "c.test", "/rocket/1.tar.gz", 307, "https://dl.test/rocket/1.tar.gz", id("coll-file", "rocket"), "coll-file", false},
		// No package could be named "-x": the collection leaves it to
		// the catch-all.
		{"GET", "c.test", "/-x/1.tar.gz", 307, "https://rest.test/-x/1.tar.gz", "rest", "", false},
		{"GET", "c.test", "/elsewhere", 307, "https://rest.test/elsewhere", "rest", "", false},
	} {
		var evs events
		var got collected
		rt := NewRouter(tbl, trusted, &evs, nil)
		rt.SetCollector(&got)
		req, _ := http.NewRequest(tc.method, "http://"+tc.host+"/", nil)
		req.RequestURI = tc.path
		req.Host = tc.host
		req.RemoteAddr = "192.0.2.1:1"
		req.Header.Set("User-Agent", "docker/27.3.1 go/go1.22.7")
		w := &recorder{h: make(http.Header)}
		rt.ServeHTTP(w, req)
		what := tc.method + " " + tc.host + tc.path
		if w.status != tc.status || w.h.Get("Location") != tc.location {
			t.Errorf("%s = %d %q, want %d %q", what, w.status, w.h.Get("Location"), tc.status, tc.location)
		}
		if len(evs) != 1 || evs[0].PackageID != tc.pkg || evs[0].RuleID != tc.rule {
			t.Errorf("%s: events %+v, want one with package %q and rule %q", what, evs, tc.pkg, tc.rule)
		}
		switch {
		case tc.collect && (len(got) != 1 || got[0].Collection != tc.rule || gateway.CollectionPackageID(got[0].Collection, got[0].Artifact) != tc.pkg):
			t.Errorf("%s: collected %+v, want the artifact of package %s", what, got, tc.pkg)
		case !tc.collect && len(got) != 0:
			t.Errorf("%s: collected %+v, want nothing", what, got)
		}
	}
}

// TestCollectionErrors: a collection's rule of another kind, or whose
// {package} is not an expression of its own, fails to compile, naming
// the collection and its source.
func TestCollectionErrors(t *testing.T) {
	for _, tc := range []struct{ rule, want, field string }{
		{`{"type":"file-v1","domain":"c.test","incoming-path":"/{package}/{v}","outgoing-url":"https://dl.test/{package,v}"}`, "{package,v}: {package} must be an expression of its own", "rule.outgoing-url"},
		{`{"type":"file-v1","domain":"c.test","incoming-path":"/{/package}/{v}","outgoing-url":"https://dl.test/{v}"}`, "{/package}: {package} must be an expression of its own", "rule.incoming-path"},
		{`{"type":"file-v1","domain":"c.test","incoming-path":"/{package:3}/{v}","outgoing-url":"https://dl.test/{v}"}`, "{package:3}: {package} must be an expression of its own", "rule.incoming-path"},
		{`{"type":"file-v1","domain":"c.test","incoming-path":"/x/{v}","outgoing-url":"https://dl.test/{v}"}`, "needs a {package} variable", "rule.incoming-path"},
		{`{"type":"catch-all-v1","domain":"c.test","redirect-target-domain":"rest.test"}`, "not catch-all-v1", "rule.type"},
	} {
		_, err := CompileSets(testOptions(t), RuleSet{Name: "store", Collections: []Collection{decodeCollection(t, "bad", tc.rule)}})
		if err == nil || !strings.Contains(err.Error(), "store: domain c.test: collection bad") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("compile %s = %v, want an error naming the collection and %q", tc.rule, err, tc.want)
		}
		// The API refuses it first, at the field at fault.
		_, err = (&Checker{}).CheckCollection("rule", []byte(tc.rule))
		if e, ok := errors.AsType[*control.Error](err); !ok || e.Field != tc.field || !strings.Contains(e.Message, tc.want) {
			t.Errorf("CheckCollection(%s) = %v, want an error at %s saying %q", tc.rule, err, tc.field, tc.want)
		}
	}
}

// TestCollectionRule: the rule of a collection's package serves the
// artifact as the collection did, and other artifacts are refused.
func TestCollectionRule(t *testing.T) {
	c := &Checker{}
	for _, tc := range []struct {
		coll, artifact, want string
	}{
		{`{"type":"docker-v2","domain":"c.test","pattern":"acme/*","registry":"ghcr.io","mode":"proxy"}`, "acme/rocket",
			`{"type":"docker-v1","domain":"c.test","repository-name":"acme/rocket","registry":"ghcr.io","mode":"proxy","package-name":"","owner":""}`},
		{`{"type":"docker-v2","domain":"c.test","pattern":"acme/{a,b}","registry":"ghcr.io","upstream-prefix":"acme-corp/tools"}`, "acme/b",
			`{"type":"docker-v1","domain":"c.test","repository-name":"acme/b","upstream-repository":"acme-corp/tools/b","registry":"ghcr.io","package-name":"","owner":""}`},
		{`{"type":"docker-v2","domain":"c.test","pattern":"*","registry":"docker.io"}`, "library/alpine",
			`{"type":"docker-v1","domain":"c.test","repository-name":"library/alpine","registry":"docker.io","package-name":"","owner":""}`},
		{`{"type":"file-v1","domain":"c.test","incoming-path":"/{package}/{version}{?os}","outgoing-url":"https://dl.test/{+package}/v{version}/{package}-{os}.tgz"}`, "rocket",
			`{"type":"file-v1","domain":"c.test","incoming-path":"/rocket/{version}{?os}","outgoing-url":"https://dl.test/rocket/v{version}/rocket-{os}.tgz"}`},
		{`{"type":"file-v1","domain":"c.test","incoming-path":"/dl/{package}.tar.gz","outgoing-url":null}`, "rocket.skates",
			`{"type":"file-v1","domain":"c.test","incoming-path":"/dl/rocket.skates.tar.gz","outgoing-url":null}`},
	} {
		cr, err := c.CollectionRule([]byte(tc.coll), tc.artifact)
		if err != nil {
			t.Errorf("CollectionRule(%s, %q) = %v", tc.coll, tc.artifact, err)
			continue
		}
		if string(cr.Canonical) != tc.want || cr.Host != "c.test" {
			t.Errorf("CollectionRule(%s, %q) =\n  %s on %s\nwant\n  %s", tc.coll, tc.artifact, cr.Canonical, cr.Host, tc.want)
		}
	}
	for _, tc := range []struct{ coll, artifact string }{
		{`{"type":"docker-v2","domain":"c.test","pattern":"acme/*","registry":"ghcr.io"}`, "other/rocket"},
		{`{"type":"docker-v2","domain":"c.test","pattern":"*","registry":"ghcr.io"}`, "library/alpine"},
		{`{"type":"file-v1","domain":"c.test","incoming-path":"/{package}/{v}","outgoing-url":"https://dl.test/{package}/{v}"}`, ".."},
		{`{"type":"file-v1","domain":"c.test","incoming-path":"/{package}/{v}","outgoing-url":"https://dl.test/{package}/{v}"}`, "a/b"},
		{`{"type":"file-v1","domain":"c.test","incoming-path":"/{package}/{v}","outgoing-url":"https://dl.test/{package}/{v}"}`, strings.Repeat("a", 101)},
	} {
		if _, err := c.CollectionRule([]byte(tc.coll), tc.artifact); err == nil || !strings.Contains(err.Error(), "artifact") {
			t.Errorf("CollectionRule(%s, %q) = %v, want a refusal", tc.coll, tc.artifact, err)
		}
	}
}

// BenchmarkCollectionDownload serves one file download through a
// collection (before its package exists: the id is derived and the
// download handed to the collector), through a package with the
// collection's template (what the collection costs beyond its
// template), and through the package the collection creates, in the
// same run.
func BenchmarkCollectionDownload(b *testing.B) {
	const collRule = `{"type":"file-v1","domain":"c.test","incoming-path":"/{package}/{version}/{os}.tar.gz","outgoing-url":"https://dl.test/{package}/{version}/{package}-{os}.tar.gz"}`
	coll := decodeCollection(b, "coll", collRule)
	same, err := manifest.DecodeRule("store", []byte(collRule), "p")
	if err != nil {
		b.Fatal(err)
	}
	pkg, err := (&Checker{}).CollectionRule([]byte(collRule), "rocket")
	if err != nil {
		b.Fatal(err)
	}
	created, err := manifest.DecodeRule("store", pkg.Canonical, "p")
	if err != nil {
		b.Fatal(err)
	}
	trusted, _ := clientip.ParseTrusted(clientip.DefaultTrusted)
	for _, tc := range []struct {
		name string
		set  RuleSet
	}{
		{"collection", RuleSet{Collections: []Collection{coll}}},
		{"same-template-package", RuleSet{Rules: []manifest.Rule{same}}},
		{"created-package", RuleSet{Rules: []manifest.Rule{created}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			tbl, err := CompileSets(testOptions(b), tc.set)
			if err != nil {
				b.Fatal(err)
			}
			rt := NewRouter(tbl, trusted, nil, nil)
			rt.SetCollector(discardCollector{})
			req, _ := http.NewRequest("GET", "http://c.test/rocket/v1.2.0/linux.tar.gz", nil)
			req.RequestURI = "/rocket/v1.2.0/linux.tar.gz"
			req.Host = "c.test"
			req.RemoteAddr = "192.0.2.1:1234"
			w := &nopWriter{h: make(http.Header)}
			rt.ServeHTTP(w, req)
			if got := w.h.Get("Location"); got != "https://dl.test/rocket/v1.2.0/rocket-linux.tar.gz" {
				b.Fatalf("Location = %q", got)
			}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				rt.ServeHTTP(w, req)
			}
		})
	}
}

type discardCollector struct{}

func (discardCollector) Collect(gateway.Collected) {}

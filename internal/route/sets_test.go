package route

import (
	"fmt"
	"net/http"
	"testing"

	"portico/internal/clientip"
	"portico/internal/manifest"
)

func decodeRules(t *testing.T, name, data string) []manifest.Rule {
	t.Helper()
	m, err := manifest.Decode(name, []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	return m.Rules
}

// TestCompileSetsAsOneManifest splits a manifest into two and three
// sources at every point: the table must answer every request as the
// whole manifest does.
func TestCompileSetsAsOneManifest(t *testing.T) {
	data := `{"rules":[
	 {"type":"file-v1","domain":"a.test","incoming-path":"/{+path}","outgoing-url":"https://wild.test/{+path}","package-id":"wild"},
	 {"type":"file-v1","domain":"a.test","incoming-path":"/dl/{f}","outgoing-url":"https://dl.test/{f}","package-id":"dl"},
	 {"type":"file-v1","domain":"a.test","incoming-path":"/dl/{g}","outgoing-url":"https://dl-second.test/{g}","package-id":"dl2"},
	 {"type":"file-v1","domain":"a.test","incoming-path":"/dl/fixed","outgoing-url":"https://fixed.test/","package-id":"fixed"},
	 {"type":"file-v2","domain":"a.test","incoming-path":"^/re/(?<x>[a-z]+)$","outgoing-url":"https://re.test/{x}","package-id":"re"},
	 {"type":"file-v2","domain":"a.test","incoming-path":"^/re/(?<y>[a-z]+)$","outgoing-url":"https://re-second.test/{y}","package-id":"re2"},
	 {"type":"docker-v1","domain":"a.test","package-id":"img","repository-name":"acme/x","registry":"ghcr.io"},
	 {"type":"docker-v2","domain":"a.test","rule-id":"img2","pattern":"acme/*","registry":"reg.test"},
	 {"type":"python-v1","domain":"a.test","package-name":"x","file-name":"x-1.tar.gz","version":"1","backend-url":"https://f.test/x-1.tar.gz","package-id":"py"},
	 {"type":"python-v1","domain":"a.test","package-name":"x","file-name":"x-1.tar.gz","version":"1","backend-url":"https://f2.test/x-1.tar.gz","package-id":"py2"},
	 {"type":"catch-all-v1","domain":"a.test","package-id":"rest","redirect-target-domain":"rest.test"},
	 {"type":"catch-all-v1","domain":"a.test","package-id":"rest2","redirect-target-domain":"rest2.test"}
	]}`
	all := decodeRules(t, "all.json", data)
	trusted, _ := clientip.ParseTrusted("")
	paths := []string{"/", "/dl/file", "/dl/fixed", "/re/abc", "/v2/", "/v2/acme/x/manifests/1", "/v2/acme/y/manifests/1",
		"/simple/x/", "/simple/x/x-1.tar.gz", "/other/path?a=b"}
	answers := func(tbl *Table) string {
		var s string
		for _, method := range []string{"GET", "HEAD"} {
			for _, p := range paths {
				s += method + " " + p + " " + serveOnce(t, tbl, trusted, method, p) + "\n"
			}
		}
		return s
	}
	opts := testOptions(t)
	whole, err := Compile(&manifest.Manifest{Rules: all}, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := answers(whole)
	for i := range len(all) + 1 {
		for j := i; j <= len(all); j++ {
			tbl, err := CompileSets(opts, RuleSet{Name: "a", Rules: all[:i]}, RuleSet{Name: "b", Rules: all[i:j]}, RuleSet{Name: "c", Rules: all[j:]})
			if err != nil {
				t.Fatal(err)
			}
			if tbl.Rules() != whole.Rules() || tbl.Domains() != whole.Domains() {
				t.Errorf("split at %d, %d: %d rules on %d domains, want %d on %d", i, j, tbl.Rules(), tbl.Domains(), whole.Rules(), whole.Domains())
			}
			if got := answers(tbl); got != want {
				t.Errorf("split at %d, %d: answers differ from the whole manifest's:\n%s\nwant:\n%s", i, j, got, want)
			}
		}
	}
}

// TestCompileSetsOrder: between sources, precedence first, then the
// earlier source, whatever the rules' positions in their own files.
func TestCompileSetsOrder(t *testing.T) {
	opts := testOptions(t)
	first := decodeRules(t, "first.json", `{"rules":[
	 {"type":"file-v1","domain":"other.test","incoming-path":"/x","outgoing-url":"https://other.test/x","package-id":"pad"},
	 {"type":"file-v1","domain":"x.test","incoming-path":"/dl/{file}","outgoing-url":"https://first.test/{file}","package-id":"first"}]}`)
	second := decodeRules(t, "second.json", `{"rules":[
	 {"type":"file-v1","domain":"x.test","incoming-path":"/dl/{f}","outgoing-url":"https://second.test/{f}","package-id":"second"},
	 {"type":"file-v1","domain":"x.test","incoming-path":"/dl/special.tar.gz","outgoing-url":"https://special.test/","package-id":"special"},
	 {"type":"file-v1","domain":"only-second.test","incoming-path":"/y","outgoing-url":"https://y.test/","package-id":"y"}]}`)
	trusted, _ := clientip.ParseTrusted("")
	get := func(tbl *Table, host, path string) string {
		t.Helper()
		return serveOnceHost(t, tbl, trusted, host, path)
	}
	for _, tc := range []struct {
		sets []RuleSet
		dl   string
	}{
		{[]RuleSet{{Name: "first", Rules: first}, {Name: "second", Rules: second}}, "307 https://first.test/a.tar.gz"},
		{[]RuleSet{{Name: "second", Rules: second}, {Name: "first", Rules: first}}, "307 https://second.test/a.tar.gz"},
	} {
		tbl, err := CompileSets(opts, tc.sets...)
		if err != nil {
			t.Fatal(err)
		}
		order := fmt.Sprintf("%s then %s", tc.sets[0].Name, tc.sets[1].Name)
		if got := get(tbl, "x.test", "/dl/a.tar.gz"); got != tc.dl {
			t.Errorf("%s: /dl/a.tar.gz = %q, want %q (the earlier source)", order, got, tc.dl)
		}
		if got := get(tbl, "x.test", "/dl/special.tar.gz"); got != "307 https://special.test/" {
			t.Errorf("%s: /dl/special.tar.gz = %q, want the more specific rule", order, got)
		}
		if got := get(tbl, "only-second.test", "/y"); got != "307 https://y.test/" {
			t.Errorf("%s: only-second.test/y = %q", order, got)
		}
		if tbl.Rules() != 5 || tbl.Domains() != 3 {
			t.Errorf("%s: %d rules on %d domains, want 5 on 3", order, tbl.Rules(), tbl.Domains())
		}
	}
	if tbl, err := CompileSets(opts); err != nil || tbl.Rules() != 0 || tbl.Domains() != 0 {
		t.Errorf("CompileSets() of no source = %v, %v; want an empty table", tbl, err)
	}
}

// serveOnceHost is serveOnce for a GET on any host.
func serveOnceHost(t *testing.T, tbl *Table, trusted *clientip.Trusted, host, path string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+host+"/", nil)
	req.RequestURI = path
	req.Host = host
	req.RemoteAddr = "192.0.2.1:1"
	w := &recorder{h: make(http.Header)}
	NewRouter(tbl, trusted, nil, nil).ServeHTTP(w, req)
	return fmt.Sprintf("%d %s", w.status, w.h.Get("Location"))
}

// TestRecompileReusesUnchangedDomains changes one rule of one source:
// the new table compiles that rule's domain alone and takes every other
// from the table before, and answers as a table compiled from nothing.
func TestRecompileReusesUnchangedDomains(t *testing.T) {
	rule := func(host, path, target string) string {
		return fmt.Sprintf(`{"type":"file-v1","domain":%q,"incoming-path":%q,"outgoing-url":"https://%s/{f}","package-id":"p"}`, host, path, target)
	}
	file := decodeRules(t, "manifest.json", `{"rules":[`+rule("a.test", "/m/{f}", "ma.test")+`,`+rule("b.test", "/m/{f}", "mb.test")+`]}`)
	store := decodeRules(t, "store", `{"rules":[`+rule("b.test", "/s/{f}", "sb.test")+`,`+rule("c.test", "/s/{f}", "sc.test")+`,`+rule("d.test", "/s/{f}", "sd.test")+`]}`)
	opts := testOptions(t)
	prev, err := CompileSets(opts, RuleSet{Name: "manifest.json", Rules: file}, RuleSet{Name: "store", Rules: store})
	if err != nil {
		t.Fatal(err)
	}

	// The store's rule for b.test is replaced by an equal one from a
	// new read: b.test is compiled again, the others are shared.
	changed := decodeRules(t, "store", `{"rules":[`+rule("b.test", "/s/{f}", "sb2.test")+`]}`)
	next := []manifest.Rule{changed[0], store[1], store[2]}
	tbl, err := Recompile(prev, opts, RuleSet{Name: "manifest.json", Rules: file}, RuleSet{Name: "store", Rules: next})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"a.test", "c.test", "d.test"} {
		if tbl.Domain(h) != prev.Domain(h) {
			t.Errorf("%s was compiled again; its rules did not change", h)
		}
	}
	if tbl.Domain("b.test") == prev.Domain("b.test") {
		t.Fatal("b.test was reused although one of its rules changed")
	}
	fresh, err := CompileSets(opts, RuleSet{Name: "manifest.json", Rules: file}, RuleSet{Name: "store", Rules: next})
	if err != nil {
		t.Fatal(err)
	}
	trusted, _ := clientip.ParseTrusted("")
	for _, h := range []string{"a.test", "b.test", "c.test", "d.test"} {
		for _, p := range []string{"/m/x", "/s/x"} {
			got := serveHost(t, tbl, trusted, h, p)
			if want := serveHost(t, fresh, trusted, h, p); got != want {
				t.Errorf("%s%s: recompiled table answers %q, a fresh one %q", h, p, got, want)
			}
		}
	}
	if got := serveHost(t, tbl, trusted, "b.test", "/s/x"); got != "307 https://sb2.test/x" {
		t.Errorf("b.test/s/x answers %q, want the changed rule's redirect", got)
	}
	if tbl.Rules() != 5 || tbl.Domains() != 4 {
		t.Errorf("table of %d rules over %d domains, want 5 over 4", tbl.Rules(), tbl.Domains())
	}

	// The same rules in another order are another domain: the order
	// decides precedence.
	swapped, err := Recompile(tbl, opts, RuleSet{Name: "store", Rules: next}, RuleSet{Name: "manifest.json", Rules: file})
	if err != nil {
		t.Fatal(err)
	}
	if swapped.Domain("b.test") == tbl.Domain("b.test") {
		t.Error("b.test was reused although its rules come in another order")
	}
	if swapped.Domain("a.test") != tbl.Domain("a.test") {
		t.Error("a.test was compiled again; its one rule did not change")
	}
}

func serveHost(t *testing.T, tbl *Table, trusted *clientip.Trusted, host, path string) string {
	t.Helper()
	rt := NewRouter(tbl, trusted, nil, nil)
	req, _ := http.NewRequest("GET", "http://"+host+path, nil)
	req.RequestURI = path
	req.RemoteAddr = "192.0.2.1:1"
	w := &recorder{h: make(http.Header)}
	rt.ServeHTTP(w, req)
	return fmt.Sprintf("%d %s", w.status, w.h.Get("Location"))
}

// TestRecompileCollectionsAndHosts: a domain is reused only when its
// collections and its https-only setting are unchanged too, as they are
// compiled into it; each recompiled table answers as one compiled from
// nothing, and serves and counts as CompileSets does.
func TestRecompileCollectionsAndHosts(t *testing.T) {
	rule := func(host string) string {
		return fmt.Sprintf(`{"type":"file-v1","domain":%q,"incoming-path":"/r/{f}","outgoing-url":"https://%s.rules.test/{f}","package-id":"p-%s"}`, host, host, host)
	}
	coll := func(id, host, target string) Collection {
		return decodeCollection(t, id, fmt.Sprintf(`{"type":"file-v1","domain":%q,"incoming-path":"/c/{package}/{f}","outgoing-url":"https://%s/{package}/{f}"}`, host, target))
	}
	rules := decodeRules(t, "manifest.json", `{"rules":[`+rule("a.test")+`,`+rule("b.test")+`]}`)
	collB, collC := coll("coll-b", "b.test", "cb.test"), coll("coll-c", "c.test", "cc.test")
	hosts := []Host{{Name: "a.test"}, {Name: "d.test"}}
	opts := testOptions(t)
	sets := func(colls []Collection, hosts []Host) []RuleSet {
		return []RuleSet{{Name: "manifest.json", Rules: rules}, {Name: "store", Collections: colls, Hosts: hosts}}
	}
	trusted, _ := clientip.ParseTrusted("")
	requests := [][2]string{{"a.test", "/r/x"}, {"a.test", "/c/pkg/x"}, {"b.test", "/r/x"}, {"b.test", "/c/pkg/x"}, {"c.test", "/c/pkg/x"}, {"d.test", "/r/x"}}
	// recompile compiles sets from prev and checks the table against one
	// compiled from nothing, then reports which domains were reused.
	recompile := func(step string, prev *Table, sets []RuleSet) (*Table, map[string]bool) {
		t.Helper()
		tbl, err := Recompile(prev, opts, sets...)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		fresh, err := CompileSets(opts, sets...)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		for _, r := range requests {
			if got, want := serveHost(t, tbl, trusted, r[0], r[1]), serveHost(t, fresh, trusted, r[0], r[1]); got != want {
				t.Errorf("%s: %s%s: recompiled table answers %q, a fresh one %q", step, r[0], r[1], got, want)
			}
		}
		for _, h := range []string{"a.test", "b.test", "c.test", "d.test", "e.test"} {
			if tbl.Serves(h) != fresh.Serves(h) || tbl.HTTPSOnly(h) != fresh.HTTPSOnly(h) {
				t.Errorf("%s: %s: Serves, HTTPSOnly = %v, %v; a fresh table's %v, %v", step, h, tbl.Serves(h), tbl.HTTPSOnly(h), fresh.Serves(h), fresh.HTTPSOnly(h))
			}
		}
		if tbl.Rules() != fresh.Rules() || tbl.Domains() != fresh.Domains() {
			t.Errorf("%s: %d rules on %d domains, a fresh table %d on %d", step, tbl.Rules(), tbl.Domains(), fresh.Rules(), fresh.Domains())
		}
		reused := map[string]bool{}
		for _, h := range tbl.DomainNames() {
			if prev != nil && tbl.Domain(h) == prev.Domain(h) {
				reused[h] = true
			}
		}
		return tbl, reused
	}
	wantReused := func(step string, reused map[string]bool, want ...string) {
		t.Helper()
		if len(reused) != len(want) {
			t.Errorf("%s: reused %v, want exactly %v", step, reused, want)
		}
		for _, h := range want {
			if !reused[h] {
				t.Errorf("%s: %s was compiled again; nothing it is compiled from changed", step, h)
			}
		}
	}

	tbl, _ := recompile("first", nil, sets([]Collection{collB, collC}, hosts))
	if tbl.Rules() != 4 || tbl.Domains() != 3 || !tbl.Serves("d.test") || tbl.Domain("d.test") != nil {
		t.Fatalf("first: %d rules on %d domains, d.test served %v; want 4 rules (two of collections) on 3 domains, d.test served without a domain",
			tbl.Rules(), tbl.Domains(), tbl.Serves("d.test"))
	}
	if got := serveHost(t, tbl, trusted, "c.test", "/c/pkg/x"); got != "307 https://cc.test/pkg/x" {
		t.Fatalf("first: c.test/c/pkg/x answers %q, want the collection's redirect", got)
	}

	// Nothing changed: every domain is reused.
	tbl, reused := recompile("unchanged", tbl, sets([]Collection{collB, collC}, hosts))
	wantReused("unchanged", reused, "a.test", "b.test", "c.test")

	// b.test's collection is read again with another target.
	collB2 := coll("coll-b", "b.test", "cb2.test")
	tbl, reused = recompile("collection changed", tbl, sets([]Collection{collB2, collC}, hosts))
	wantReused("collection changed", reused, "a.test", "c.test")
	if got := serveHost(t, tbl, trusted, "b.test", "/c/pkg/x"); got != "307 https://cb2.test/pkg/x" {
		t.Errorf("collection changed: b.test/c/pkg/x answers %q, want the changed collection's redirect", got)
	}

	// a.test gains a collection; the same ones in another order.
	collA := coll("coll-a", "a.test", "ca.test")
	tbl, reused = recompile("collection added", tbl, sets([]Collection{collC, collA, collB2}, hosts))
	wantReused("collection added", reused, "b.test", "c.test")

	// a.test becomes https-only through the store's hosts: its rules and
	// collections are the same, its domain is not.
	httpsA := []Host{{Name: "a.test", HTTPSOnly: true}, {Name: "d.test"}}
	tbl, reused = recompile("https-only on", tbl, sets([]Collection{collC, collA, collB2}, httpsA))
	wantReused("https-only on", reused, "b.test", "c.test")
	if !tbl.Domain("a.test").HTTPSOnly() {
		t.Error("https-only on: a.test's domain is not HTTPS only")
	}
	if got := serveHost(t, tbl, trusted, "a.test", "/r/x"); got != "301 https://a.test/r/x" {
		t.Errorf("https-only on: plain a.test/r/x answers %q, want a redirect to HTTPS", got)
	}
	tbl, reused = recompile("https-only off", tbl, sets([]Collection{collC, collA, collB2}, hosts))
	wantReused("https-only off", reused, "b.test", "c.test")
	if tbl.Domain("a.test").HTTPSOnly() {
		t.Error("https-only off: a.test's domain is still HTTPS only")
	}

	// c.test's only collection goes: so does its domain.
	tbl, reused = recompile("collection removed", tbl, sets([]Collection{collA, collB2}, hosts))
	wantReused("collection removed", reused, "a.test", "b.test")
	if tbl.Domain("c.test") != nil || tbl.Serves("c.test") {
		t.Error("collection removed: c.test still routes")
	}
}

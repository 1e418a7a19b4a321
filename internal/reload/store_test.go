package reload

import (
	"context"
	"fmt"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"portico/internal/clientip"
	"portico/internal/control"
	"portico/internal/manifest"
	"portico/internal/route"
	"portico/internal/route/routetest"
	"portico/internal/store/sqlite"
	"portico/internal/store/storetest"
)

// TestStoreDecodesOnlyChanges changes one package of many: the store
// source decodes that package alone, the loader compiles that package's
// domain alone, every request answers as before but the changed
// package's, and the local copy holds the new version.
func TestStoreDecodesOnlyChanges(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, sqlite.Config{Dir: filepath.Join(dir, "data")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m, err := manifest.Decode("seed.json", benchManifest(40, 4))
	if err != nil {
		t.Fatal(err)
	}
	if err := storetest.SeedPackages(ctx, st, "acme", m.Rules); err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(dir, "routes.json")
	src := NewStore(StoreConfig{Store: st, LocalCopy: copyPath})
	loader := NewLoader([]Source{src}, routetest.Options(t), nil, nil)
	trusted, _ := clientip.ParseTrusted("")
	router, err := loader.Load(func(tbl *route.Table) *route.Router { return route.NewRouter(tbl, trusted, nil, nil) })
	if err != nil {
		t.Fatal(err)
	}
	before := loader.Rules(src)
	tableBefore := router.Table()
	if len(before) != 40 || tableBefore.Domains() != 4 {
		t.Fatalf("loaded %d rules over %d domains, want 40 over 4", len(before), tableBefore.Domains())
	}

	// p13 (on d1.example.com) moves to another backend.
	err = st.Update(ctx, func(tx control.Tx) error {
		p, err := tx.Package(ctx, "p13")
		if err != nil {
			return err
		}
		p.Rule = []byte(`{"type":"file-v1","domain":"d1.example.com","incoming-path":"/pkg13/{version}/{os}/pkg13.tar.gz","outgoing-url":"https://mirror.example.com/pkg13/{version}/{os}.tar.gz"}`)
		if err := tx.UpdatePackage(ctx, p); err != nil {
			return err
		}
		tx.RoutingChanged()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if swapped, err := loader.ReloadSource(src); !swapped || err != nil {
		t.Fatalf("ReloadSource: swapped %v, err %v", swapped, err)
	}

	after := loader.Rules(src)
	if len(after) != len(before) {
		t.Fatalf("%d rules after the change, want %d", len(after), len(before))
	}
	for i := range after {
		id := manifest.PackageID(after[i])
		if same := after[i] == before[i]; same != (id != "p13") {
			t.Errorf("package %s: rule value kept %v, want it kept unless it changed", id, same)
		}
	}
	tableAfter := router.Table()
	for _, h := range tableAfter.DomainNames() {
		if same := tableAfter.Domain(h) == tableBefore.Domain(h); same != (h != "d1.example.com") {
			t.Errorf("domain %s: compiled domain kept %v, want it kept unless one of its packages changed", h, same)
		}
	}
	for i := range 40 {
		host := fmt.Sprintf("d%d.example.com", i%4)
		req := httptest.NewRequest("GET", fmt.Sprintf("/pkg%d/v1/linux/pkg%d.tar.gz", i, i), nil)
		req.Host = host
		w := httptest.NewRecorder()
		router.ServeHTTP(w, req)
		want := fmt.Sprintf("https://dl.example.com/pkg%d/v1/pkg%d-linux.tar.gz", i, i)
		if i == 13 {
			want = "https://mirror.example.com/pkg13/v1/linux.tar.gz"
		}
		if got := w.Header().Get("Location"); got != want {
			t.Errorf("package p%d redirects to %q, want %q", i, got, want)
		}
	}

	// The local copy is the version in use, and reads back to the same
	// rules.
	local, err := readLocalCopy(copyPath)
	if err != nil {
		t.Fatal(err)
	}
	if st := loader.Status(); local.Version != src.rulesVersion(t) || len(local.Rules) != 40 || st.Rules != 40 {
		t.Fatalf("local copy of version %s with %d rules; want the version read and 40", local.Version, len(local.Rules))
	}
	for i, r := range local.Rules {
		want, err := manifest.EncodeRule(after[i])
		if err != nil {
			t.Fatal(err)
		}
		got, err := manifest.EncodeRule(r)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("local copy's rule %d is %s, want %s", i, got, want)
		}
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".routes-*")); len(leftovers) != 0 {
		t.Errorf("temporary copies left behind: %q", leftovers)
	}
	if _, err := os.Stat(copyPath); err != nil {
		t.Fatal(err)
	}
}

// rulesVersion returns the store's config version, as the source names
// its versions.
func (s *Store) rulesVersion(t *testing.T) string {
	t.Helper()
	v, err := s.cfg.Store.ConfigVersion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(v)
}

// TestLocalCopyIDs writes ids that JSON must escape and ids it need not,
// and reads them back.
func TestLocalCopyIDs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "routes.json")
	s := NewStore(StoreConfig{LocalCopy: path})
	rule := []byte(`{"type":"file-v1","domain":"a.test","incoming-path":"/{f}","outgoing-url":"https://b.test/{f}"}`)
	ids := []string{"0b8a5c1e-7d34-4f8e-9a51-2f3c4d5e6f70", `q"uote`, `back\slash`, "caf\u00e9", "<tag>&", "tab\there"}
	c := s.newCopy("7")
	for _, id := range ids {
		c.add(id, rule)
	}
	if err := c.commit(nil); err != nil {
		t.Fatal(err)
	}
	set, err := readLocalCopy(path)
	if err != nil {
		t.Fatal(err)
	}
	if set.Version != "7" || len(set.Rules) != len(ids) {
		t.Fatalf("read back version %q with %d rules, want 7 and %d", set.Version, len(set.Rules), len(ids))
	}
	for i, r := range set.Rules {
		if got := manifest.PackageID(r); got != ids[i] {
			t.Errorf("rule %d has id %q, want %q", i, got, ids[i])
		}
	}
}

// TestLocalCopyCollectionsAndHosts writes packages, collections and
// hosts as a read does, and reads them back as a start during an outage
// does.
func TestLocalCopyCollectionsAndHosts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "routes.json")
	s := NewStore(StoreConfig{LocalCopy: path})
	pkg := []byte(`{"type":"file-v1","domain":"a.test","incoming-path":"/{f}","outgoing-url":"https://b.test/{f}"}`)
	coll := []byte(`{"type":"file-v1","domain":"c.test","incoming-path":"/{package}/{f}","outgoing-url":"https://b.test/{package}/{f}"}`)
	hosts := []route.Host{{Name: "a.test"}, {Name: "c.test", HTTPSOnly: true}}
	c := s.newCopy("9")
	c.add("p1", pkg)
	c.startCollections()
	c.add("c1", coll)
	c.add("c2", coll)
	if err := c.commit(hosts); err != nil {
		t.Fatal(err)
	}
	set, err := readLocalCopy(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Rules) != 1 || manifest.PackageID(set.Rules[0]) != "p1" {
		t.Errorf("read back rules %v, want the one of p1", set.Rules)
	}
	if len(set.Collections) != 2 || set.Collections[0].ID != "c1" || set.Collections[1].ID != "c2" {
		t.Fatalf("read back collections %+v, want c1 and c2", set.Collections)
	}
	if h := set.Collections[1].Rule.Common().Host; h != "c.test" {
		t.Errorf("collection c2 routes %q, want c.test", h)
	}
	if !slices.Equal(set.Hosts, hosts) {
		t.Errorf("read back hosts %+v, want %+v", set.Hosts, hosts)
	}
	// Without collections or hosts, the copy reads back as empty ones.
	c = s.newCopy("10")
	c.startCollections()
	if err := c.commit(nil); err != nil {
		t.Fatal(err)
	}
	if set, err = readLocalCopy(path); err != nil {
		t.Fatal(err)
	}
	if set.Version != "10" || len(set.Rules)+len(set.Collections)+len(set.Hosts) != 0 {
		t.Errorf("read back %+v, want version 10 and nothing else", set)
	}
}

// TestStoreDecodesOnlyChangedCollections changes one collection, then
// one domain's https-only setting: the store source decodes that
// collection alone, and the loader compiles the one domain each change
// touches; the local copy keeps the collections and hosts in use.
func TestStoreDecodesOnlyChangedCollections(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, sqlite.Config{Dir: filepath.Join(dir, "data")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m, err := manifest.Decode("seed.json", benchManifest(40, 4))
	if err != nil {
		t.Fatal(err)
	}
	if err := storetest.SeedPackages(ctx, st, "acme", m.Rules); err != nil {
		t.Fatal(err)
	}
	collRule := func(host, target string) []byte {
		return fmt.Appendf(nil, `{"type":"file-v1","domain":%q,"incoming-path":"/c/{package}/{f}","outgoing-url":"https://%s/{package}/{f}"}`, host, target)
	}
	// A collection beside d0.example.com's packages, and one on a domain
	// of its own.
	err = st.Update(ctx, func(tx control.Tx) error {
		d0, err := tx.Domain(ctx, "d0.example.com")
		if err != nil {
			return err
		}
		now := d0.Created
		if err := tx.CreateDomain(ctx, control.Domain{Name: "e.example.com", OrgID: d0.OrgID, Status: control.DomainVerified, Verified: now, Created: now}); err != nil {
			return err
		}
		for _, c := range []control.Collection{
			{ID: "coll-d0", OrgID: d0.OrgID, Name: "d0", Rule: collRule("d0.example.com", "c0.test"), Created: now, Updated: now},
			{ID: "coll-e", OrgID: d0.OrgID, Name: "e", Rule: collRule("e.example.com", "ce.test"), Created: now, Updated: now},
		} {
			if err := tx.CreateCollection(ctx, c); err != nil {
				return err
			}
		}
		tx.RoutingChanged()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(dir, "routes.json")
	src := NewStore(StoreConfig{Store: st, LocalCopy: copyPath})
	loader := NewLoader([]Source{src}, routetest.Options(t), nil, nil)
	trusted, _ := clientip.ParseTrusted("")
	router, err := loader.Load(func(tbl *route.Table) *route.Router { return route.NewRouter(tbl, trusted, nil, nil) })
	if err != nil {
		t.Fatal(err)
	}
	get := func(host, path string) string {
		t.Helper()
		req := httptest.NewRequest("GET", path, nil)
		req.Host = host
		w := httptest.NewRecorder()
		router.ServeHTTP(w, req)
		return fmt.Sprintf("%d %s", w.Code, w.Header().Get("Location"))
	}
	if tbl := router.Table(); tbl.Rules() != 42 || tbl.Domains() != 5 {
		t.Fatalf("loaded %d rules over %d domains, want 42 (40 packages, 2 collections) over 5", tbl.Rules(), tbl.Domains())
	}
	if got := get("e.example.com", "/c/tool/x.tgz"); got != "307 https://ce.test/tool/x.tgz" {
		t.Fatalf("e.example.com/c/tool/x.tgz answers %q, want the collection's redirect", got)
	}
	// reload applies change and reports which domains the loader kept,
	// and which collections' rules the source kept.
	reload := func(change func(tx control.Tx) error) (domains, colls map[string]bool) {
		t.Helper()
		tblBefore, collsBefore := router.Table(), maps.Clone(src.colls)
		err := st.Update(ctx, func(tx control.Tx) error {
			if err := change(tx); err != nil {
				return err
			}
			tx.RoutingChanged()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if swapped, err := loader.ReloadSource(src); !swapped || err != nil {
			t.Fatalf("ReloadSource: swapped %v, err %v", swapped, err)
		}
		tbl := router.Table()
		domains, colls = map[string]bool{}, map[string]bool{}
		for _, h := range tbl.DomainNames() {
			domains[h] = tbl.Domain(h) == tblBefore.Domain(h)
		}
		for id, c := range src.colls {
			colls[id] = c.rule == collsBefore[id].rule
		}
		return domains, colls
	}
	wantKept := func(what string, kept map[string]bool, changed string) {
		t.Helper()
		for k, same := range kept {
			if same != (k != changed) {
				t.Errorf("%s %s: kept %v, want it kept unless it changed", what, k, same)
			}
		}
	}

	domains, colls := reload(func(tx control.Tx) error {
		c, err := tx.Collection(ctx, "coll-e")
		if err != nil {
			return err
		}
		c.Rule = collRule("e.example.com", "ce2.test")
		return tx.UpdateCollection(ctx, c)
	})
	wantKept("after a collection changed: domain", domains, "e.example.com")
	wantKept("after a collection changed: collection", colls, "coll-e")
	if len(colls) != 2 {
		t.Errorf("the source keeps %d collections, want 2", len(colls))
	}
	if got := get("e.example.com", "/c/tool/x.tgz"); got != "307 https://ce2.test/tool/x.tgz" {
		t.Errorf("e.example.com/c/tool/x.tgz answers %q, want the changed collection's redirect", got)
	}
	if got := get("d0.example.com", "/c/tool/x.tgz"); got != "307 https://c0.test/tool/x.tgz" {
		t.Errorf("d0.example.com/c/tool/x.tgz answers %q, want its collection's redirect", got)
	}

	domains, colls = reload(func(tx control.Tx) error {
		d, err := tx.Domain(ctx, "d2.example.com")
		if err != nil {
			return err
		}
		d.HTTPSOnly = true
		return tx.UpdateDomain(ctx, d)
	})
	wantKept("after https-only changed: domain", domains, "d2.example.com")
	wantKept("after https-only changed: collection", colls, "")
	if got := get("d2.example.com", "/pkg2/v1/linux/pkg2.tar.gz"); got != "301 https://d2.example.com/pkg2/v1/linux/pkg2.tar.gz" {
		t.Errorf("plain request to the https-only domain answers %q, want a redirect to HTTPS", got)
	}
	if got := get("d1.example.com", "/pkg1/v1/linux/pkg1.tar.gz"); got != "307 https://dl.example.com/pkg1/v1/pkg1-linux.tar.gz" {
		t.Errorf("d1.example.com answers %q, want its package's redirect", got)
	}

	// The local copy holds the collections and hosts in use, and a start
	// from it routes as the store does.
	local, err := readLocalCopy(copyPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(local.Rules) != 40 || len(local.Collections) != 2 || len(local.Hosts) != 5 {
		t.Fatalf("local copy of %d rules, %d collections, %d hosts; want 40, 2, 5", len(local.Rules), len(local.Collections), len(local.Hosts))
	}
	tbl, err := route.CompileSets(routetest.Options(t), local)
	if err != nil {
		t.Fatal(err)
	}
	if !tbl.HTTPSOnly("d2.example.com") || tbl.HTTPSOnly("d1.example.com") || !tbl.Serves("e.example.com") {
		t.Error("the local copy's table does not serve the hosts as the store does")
	}
	router = route.NewRouter(tbl, trusted, nil, nil)
	if got := get("e.example.com", "/c/tool/x.tgz"); got != "307 https://ce2.test/tool/x.tgz" {
		t.Errorf("from the local copy, e.example.com/c/tool/x.tgz answers %q, want the changed collection's redirect", got)
	}
}

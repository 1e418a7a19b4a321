package reload

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
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

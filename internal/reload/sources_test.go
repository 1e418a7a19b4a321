package reload

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"portico/internal/clientip"
	"portico/internal/route"
	"portico/internal/route/routetest"
)

// counted is a Source that counts its reads.
type counted struct {
	Source
	reads atomic.Int64
}

func (c *counted) Read(ctx context.Context, have string) (route.RuleSet, error) {
	c.reads.Add(1)
	return c.Source.Read(ctx, have)
}

// fileRule routes /dl/{file} on host to target.
func fileRule(host, target string) string {
	return fmt.Sprintf(`{"type":"file-v1","domain":%q,"incoming-path":"/dl/{file}","outgoing-url":"https://%s/{file}","package-id":"p"}`, host, target)
}

func rules(rs ...string) string { return `{"rules":[` + strings.Join(rs, ",") + `]}` }

type twoFiles struct {
	a, b   string
	srcA   *counted
	srcB   *counted
	loader *Loader
	router *route.Router
	rec    *recorder
}

func newTwoFiles(t *testing.T, a, b string) *twoFiles {
	t.Helper()
	dir := t.TempDir()
	f := &twoFiles{a: filepath.Join(dir, "a.json"), b: filepath.Join(dir, "b.json"), rec: &recorder{}}
	writeFile(t, f.a, a)
	writeFile(t, f.b, b)
	f.srcA, f.srcB = &counted{Source: NewFile(f.a, nil)}, &counted{Source: NewFile(f.b, nil)}
	f.loader = NewLoader([]Source{f.srcA, f.srcB}, routetest.Options(t), nil, f.rec)
	trusted, _ := clientip.ParseTrusted("")
	var err error
	f.router, err = f.loader.Load(func(tbl *route.Table) *route.Router { return route.NewRouter(tbl, trusted, nil, nil) })
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *twoFiles) target(host string) string {
	req := httptest.NewRequest("GET", "/dl/f", nil)
	req.Host = host
	w := httptest.NewRecorder()
	f.router.ServeHTTP(w, req)
	return w.Header().Get("Location")
}

// TestSourcesRejectedAlone: a bad version of one source is rejected
// while a good version of another is loaded, and each keeps serving what
// it last got right.
func TestSourcesRejectedAlone(t *testing.T) {
	f := newTwoFiles(t, rules(fileRule("a.test", "a1.test")), rules(fileRule("b.test", "b1.test")))
	if st := f.loader.Status(); st.Rules != 2 || st.Domains != 2 || st.File != f.a+", "+f.b {
		t.Fatalf("status after the first load: %+v", st)
	}
	writeFile(t, f.a, rules(fileRule("a.test", "a2.test")))
	writeFile(t, f.b, invalidGen(0))
	swapped, err := f.loader.Reload(false)
	if !swapped || err == nil {
		t.Fatalf("Reload: swapped %v, err %v; want the good source loaded and the bad one's error", swapped, err)
	}
	if got := f.target("a.test"); got != "https://a2.test/f" {
		t.Errorf("a.test serves %q, want its new version", got)
	}
	if got := f.target("b.test"); got != "https://b1.test/f" {
		t.Errorf("b.test serves %q, want its previous version", got)
	}
	st := f.loader.Status()
	if len(st.Problems) != 1 || !strings.Contains(st.Problems[0], f.b) || st.RejectedAt.IsZero() {
		t.Errorf("status problems %q at %v, want b.json's one problem", st.Problems, st.RejectedAt)
	}

	// Another good version of a does not hide that b is still bad.
	writeFile(t, f.a, rules(fileRule("a.test", "a3.test")))
	if swapped, err := f.loader.Reload(false); !swapped || err == nil {
		t.Fatalf("a's third version: swapped %v, err %v; want it loaded, and b's error again", swapped, err)
	}
	if st := f.loader.Status(); len(st.Problems) != 1 {
		t.Errorf("after a's next version, problems %q; want b's still pending", st.Problems)
	}
	writeFile(t, f.b, rules(fileRule("b.test", "b2.test")))
	if swapped, err := f.loader.Reload(false); !swapped || err != nil {
		t.Fatalf("b fixed: swapped %v, err %v", swapped, err)
	}
	if st := f.loader.Status(); len(st.Problems) != 0 || !st.RejectedAt.IsZero() {
		t.Errorf("after b was fixed, problems %q at %v; want none", st.Problems, st.RejectedAt)
	}
	if got := f.target("b.test"); got != "https://b2.test/f" {
		t.Errorf("b.test serves %q, want its fixed version", got)
	}
	// Reload re-reads every source: b's bad version was rejected by the
	// first two.
	if ok, rejected := f.rec.ok.Load(), f.rec.rejected.Load(); ok != 4 || rejected != 2 {
		t.Errorf("recorded %d loads and %d rejections, want 4 and 2", ok, rejected)
	}
}

// TestSourcesShareDomain: two sources on one domain route as one
// manifest; the earlier source wins a tie.
func TestSourcesShareDomain(t *testing.T) {
	f := newTwoFiles(t, rules(fileRule("x.test", "a.test")), rules(fileRule("x.test", "b.test")))
	if got := f.target("x.test"); got != "https://a.test/f" {
		t.Errorf("x.test serves %q, want the first source's rule", got)
	}
	writeFile(t, f.a, rules())
	if _, err := f.loader.Reload(false); err != nil {
		t.Fatal(err)
	}
	if got := f.target("x.test"); got != "https://b.test/f" {
		t.Errorf("x.test serves %q after the first source dropped its rule, want the second's", got)
	}
}

// TestWatchSources: a change to one source re-reads that source only;
// SIGHUP re-reads every source.
func TestWatchSources(t *testing.T) {
	f := newTwoFiles(t, rules(fileRule("a.test", "a1.test")), rules(fileRule("b.test", "b1.test")))
	ctx, cancel := context.WithCancel(context.Background())
	hup := make(chan os.Signal, 1)
	done := make(chan struct{})
	go func() { f.loader.Watch(ctx, 5*time.Millisecond, hup); close(done) }()
	defer func() { cancel(); <-done }()
	waitUntil := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(time.Millisecond)
		}
	}
	readsA := f.srcA.reads.Load()
	writeFile(t, f.b, rules(fileRule("b.test", "b2.test")))
	waitUntil("b's new version", func() bool { return f.target("b.test") == "https://b2.test/f" })
	if n := f.srcA.reads.Load(); n != readsA {
		t.Errorf("a was read %d times for a change to b, want 0", n-readsA)
	}
	readsA, readsB, gen := f.srcA.reads.Load(), f.srcB.reads.Load(), f.loader.Status().Generation
	hup <- syscall.SIGHUP
	waitUntil("the reload on SIGHUP", func() bool { return f.loader.Status().Generation > gen })
	if f.srcA.reads.Load() == readsA || f.srcB.reads.Load() == readsB {
		t.Errorf("SIGHUP read a %d and b %d times, want both re-read", f.srcA.reads.Load()-readsA, f.srcB.reads.Load()-readsB)
	}
}

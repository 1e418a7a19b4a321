package reload

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"portico/internal/clientip"
	"portico/internal/route"
	"portico/internal/route/routetest"
)

// manifestGen routes /dl/{file} on r.test to gen<N>.test; every valid
// version has its own N, so a response tells which version served it.
func manifestGen(n int) string {
	return fmt.Sprintf(`{"rules":[{"type":"file-v1","domain":"r.test","incoming-path":"/dl/{file}","outgoing-url":"https://gen%d.test/{file}","package-id":"p%d"}]}`, n, n)
}

// invalidGen is broken in a different way each time.
func invalidGen(n int) string {
	switch n % 3 {
	case 0:
		return `{"rules":[{"type":"file-v1","domain":"r.test","incoming-path":"/dl/{file","outgoing-url":"https://bad.test/","package-id":"p"}]}`
	case 1:
		return `{"rules":[{"type":"file-v1","domain":"r.test",`
	default:
		return `{"rules":[{"type":"file-v1","domain":"r.test","incoming-path":"/dl/{file}","outgoing-url":"https://bad.test/{other}","package-id":"p"}]}`
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	// Write and rename, as deployment tools do, so a reader never sees
	// half a file.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

type recorder struct{ ok, rejected atomic.Int64 }

func (r *recorder) ConfigLoaded(uint64, int, int, time.Time) { r.ok.Add(1) }
func (r *recorder) ConfigRejected()                          { r.rejected.Add(1) }

func newLoaded(t *testing.T, path string) (*Loader, *route.Router, *recorder) {
	t.Helper()
	rec := &recorder{}
	l := New(path, routetest.Options(t), nil, rec)
	trusted, _ := clientip.ParseTrusted("")
	rt, err := l.Load(func(tbl *route.Table) *route.Router { return route.NewRouter(tbl, trusted, nil, nil) })
	if err != nil {
		t.Fatal(err)
	}
	return l, rt, rec
}

func TestReloadUnderLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "manifest.json")
	writeFile(t, path, manifestGen(0))
	l, rt, rec := newLoaded(t, path)
	srv := httptest.NewServer(rt)
	defer srv.Close()

	var stop atomic.Bool
	var requests, failures atomic.Int64
	var mu sync.Mutex
	var problems []string
	genRE := regexp.MustCompile(`^https://gen(\d+)\.test/file-(\d+)$`)
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Go(func() {
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			last := 0
			for i := 0; !stop.Load(); i++ {
				req, _ := http.NewRequest("GET", fmt.Sprintf("%s/dl/file-%d", srv.URL, i), nil)
				req.Host = "r.test"
				resp, err := client.Do(req)
				requests.Add(1)
				fail := func(format string, args ...any) {
					failures.Add(1)
					mu.Lock()
					problems = append(problems, fmt.Sprintf("client %d: ", c)+fmt.Sprintf(format, args...))
					mu.Unlock()
				}
				if err != nil {
					fail("request: %v", err)
					continue
				}
				resp.Body.Close()
				m := genRE.FindStringSubmatch(resp.Header.Get("Location"))
				if resp.StatusCode != http.StatusTemporaryRedirect || m == nil || m[2] != strconv.Itoa(i) {
					fail("status %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
					continue
				}
				gen, _ := strconv.Atoi(m[1])
				if gen%2 != 0 || gen < last {
					// Only even versions are valid, and a client must never
					// go back to an older table once it saw a newer one.
					fail("served by version %d after %d", gen, last)
				}
				last = gen
			}
		})
	}

	for v := 1; v <= 100; v++ {
		valid := v%2 == 0
		if valid {
			writeFile(t, path, manifestGen(v))
		} else {
			writeFile(t, path, invalidGen(v))
		}
		swapped, err := l.Reload(false)
		st := l.Status()
		switch {
		case valid && (err != nil || !swapped):
			t.Fatalf("version %d (valid): swapped %v, err %v", v, swapped, err)
		case !valid && (err == nil || swapped || len(st.Problems) == 0):
			t.Fatalf("version %d (invalid): swapped %v, err %v, problems %q", v, swapped, err, st.Problems)
		case !valid && !strings.Contains(st.Describe(), "rejected"):
			t.Fatalf("version %d: /readyz detail does not report the rejection:\n%s", v, st.Describe())
		}
		time.Sleep(2 * time.Millisecond) // let requests run on every table
	}
	stop.Store(true)
	wg.Wait()

	if requests.Load() < 100 {
		t.Errorf("only %d requests ran during the reloads", requests.Load())
	}
	if n := failures.Load(); n > 0 {
		t.Errorf("%d of %d requests failed or were misrouted; first: %s", n, requests.Load(), problems[0])
	}
	if got := rec.ok.Load(); got != 51 {
		t.Errorf("accepted loads = %d, want 51 (the first and 50 valid versions)", got)
	}
	if got := rec.rejected.Load(); got != 50 {
		t.Errorf("rejected loads = %d, want 50", got)
	}
	if st := l.Status(); st.Generation != 51 || len(st.Problems) != 0 {
		t.Errorf("final status %+v: want generation 51 and no pending problems", st)
	}
	t.Logf("%d requests during 100 reloads, none failed", requests.Load())
}

func TestUnchangedContentIsNotReloaded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "manifest.json")
	writeFile(t, path, manifestGen(0))
	l, _, rec := newLoaded(t, path)
	writeFile(t, path, manifestGen(0)) // same bytes, new inode
	if swapped, err := l.Reload(false); swapped || err != nil {
		t.Errorf("Reload of identical content: swapped %v, err %v; want neither", swapped, err)
	}
	if swapped, err := l.Reload(true); !swapped || err != nil {
		t.Errorf("forced Reload: swapped %v, err %v; want a new generation", swapped, err)
	}
	if rec.ok.Load() != 2 {
		t.Errorf("loads = %d, want 2", rec.ok.Load())
	}
}

func TestWatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "manifest.json")
	writeFile(t, path, manifestGen(0))
	l, rt, _ := newLoaded(t, path)
	ctx, cancel := context.WithCancel(context.Background())
	hup := make(chan os.Signal, 1)
	done := make(chan struct{})
	go func() { l.Watch(ctx, 5*time.Millisecond, hup); close(done) }()
	defer func() { cancel(); <-done }()

	target := func() string {
		req := httptest.NewRequest("GET", "/dl/f", nil)
		req.Host = "r.test"
		w := httptest.NewRecorder()
		rt.ServeHTTP(w, req)
		return w.Header().Get("Location")
	}
	waitFor := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for target() != want {
			if time.Now().After(deadline) {
				t.Fatalf("the watcher did not pick up the change: serving %q, want %q", target(), want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	writeFile(t, path, manifestGen(2))
	waitFor("https://gen2.test/f")
	// In place, same size: only the modification time tells.
	if err := os.WriteFile(path, []byte(manifestGen(4)), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor("https://gen4.test/f")
	gen := l.Status().Generation
	hup <- syscall.SIGHUP
	deadline := time.Now().Add(10 * time.Second)
	for l.Status().Generation == gen {
		if time.Now().After(deadline) {
			t.Fatal("SIGHUP did not reload the manifest")
		}
		time.Sleep(time.Millisecond)
	}
	writeFile(t, path, invalidGen(1))
	deadline = time.Now().Add(10 * time.Second)
	for len(l.Status().Problems) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the watcher did not report the invalid version")
		}
		time.Sleep(time.Millisecond)
	}
	if got := target(); got != "https://gen4.test/f" {
		t.Errorf("after an invalid version, serving %q, want the previous version's https://gen4.test/f", got)
	}
}

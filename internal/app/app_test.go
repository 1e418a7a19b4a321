package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"portico/internal/config"
	"portico/internal/stats"
	"portico/internal/store"
	"portico/internal/testenv"
)

const manifestJSON = `{"rules":[{"type":"file-v1","domain":"a.test","incoming-path":"/dl/{file}","outgoing-url":"https://dl.test/{file}","package-id":"p"}]}`

func testConfig(t *testing.T) config.Config {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "manifest.json")
	if err := os.WriteFile(path, []byte(manifestJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Manifest = path
	cfg.Listen = "127.0.0.1:0"
	cfg.OpsListen = "127.0.0.1:0"
	cfg.Control.AppListen = "127.0.0.1:0"
	cfg.Analytics.Data = filepath.Join(dir, "data")
	cfg.ReloadInterval = 0
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// newTestLogger logs as the gateway does by default, to w (nowhere when
// w is nil).
func newTestLogger(w io.Writer) *slog.Logger {
	if w == nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// TestRun serves a download, shuts down, and finds its event both on
// the event stream and in the store: the pipeline was flushed before the
// store was closed.
func TestRun(t *testing.T) {
	cfg := testConfig(t)
	var events testenv.Buffer
	var logs testenv.Buffer
	a, err := New(t.Context(), cfg, &events, newTestLogger(&logs))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", "http://"+a.gw.Addr().String()+"/dl/x.tar.gz", nil)
	req.Host = "a.test"
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "https://dl.test/x.tar.gz" {
		t.Fatalf("GET = %d %q, want a redirect to https://dl.test/x.tar.gz", resp.StatusCode, resp.Header.Get("Location"))
	}
	ready, err := http.Get("http://" + a.ops.Addr().String() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	ready.Body.Close()
	if ready.StatusCode != http.StatusOK {
		t.Errorf("/readyz = %d, want 200", ready.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not return after its context ended")
	}
	if n := strings.Count(events.String(), `"kind":"file"`); n != 1 {
		t.Errorf("event stream has %d file events, want 1:\n%s", n, events.String())
	}
	for _, line := range []string{`msg="ops listening"`, `msg="gateway listening"`, `msg="shutting down"`, `msg=stopped`} {
		if !strings.Contains(logs.String(), line) {
			t.Errorf("log lacks %s:\n%s", line, logs.String())
		}
	}
	for _, addr := range []net.Addr{a.gw.Addr(), a.ops.Addr()} {
		if c, err := net.Dial("tcp", addr.String()); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Run returned", addr)
		}
	}
	st, err := OpenStore(t.Context(), cfg.Analytics.StoreLocation, StoreOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	total, err := stats.New(st).Total(t.Context(), stats.Query{Filter: store.Filter{From: time.Now().Add(-time.Hour)}, Measure: store.Requests})
	if err != nil || total != 1 {
		t.Errorf("the store holds %d events (%v), want the 1 served before shutdown", total, err)
	}
}

// TestNewReleasesOnError fails New at its last step, the operator
// listener, and checks that everything built before was released: the
// gateway's address, and the data directory (its spool is locked while
// open).
func TestNewReleasesOnError(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gwAddr := free.Addr().String()
	free.Close()

	cfg := testConfig(t)
	cfg.Listen, cfg.OpsListen = gwAddr, busy.Addr().String()
	a, err := New(t.Context(), cfg, &testenv.Buffer{}, newTestLogger(nil))
	if err == nil {
		a.Close()
		t.Fatal("New succeeded with the ops address taken")
	}
	if !strings.HasPrefix(err.Error(), "ops listener: ") {
		t.Errorf("New = %v, want an ops listener error", err)
	}
	ln, err := net.Listen("tcp", gwAddr)
	if err != nil {
		t.Errorf("the gateway address is still bound after New failed: %v", err)
	} else {
		ln.Close()
	}
	cfg.Listen, cfg.OpsListen = "127.0.0.1:0", "off"
	a, err = New(t.Context(), cfg, &testenv.Buffer{}, newTestLogger(nil))
	if err != nil {
		t.Fatalf("New on the same data directory after a failed New: %v", err)
	}
	a.Close()
}

func TestClosers(t *testing.T) {
	var c closers
	var order []int
	for i := range 3 {
		c.push(func(context.Context) { order = append(order, i) })
	}
	c.run(t.Context())
	c.run(t.Context())
	if len(order) != 3 || order[0] != 2 || order[1] != 1 || order[2] != 0 {
		t.Errorf("closers ran %v, want [2 1 0], once each", order)
	}
}

func TestOpenStore(t *testing.T) {
	dir := t.TempDir()
	loc := config.StoreLocation{Data: dir}
	if _, err := OpenStore(t.Context(), loc, StoreOptions{ReadOnly: true}); err == nil || !strings.Contains(err.Error(), "no analytics store in "+dir) {
		t.Errorf("read-only open of an empty directory: %v, want a request to run portico serve first", err)
	}
	if _, err := OpenStore(t.Context(), config.StoreLocation{Data: config.NoStore}, StoreOptions{ReadOnly: true}); err == nil || !strings.Contains(err.Error(), "no store to read") {
		t.Errorf("read-only open of --data none: %v", err)
	}
	w, err := OpenStore(t.Context(), loc, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := w.(store.SaltStore); ok {
		t.Error("the embedded store shares salts; only the shared store needs to")
	}
	w.Close()
	r, err := OpenStore(t.Context(), loc, StoreOptions{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only open of a store the gateway made: %v", err)
	}
	r.Close()

	// PostgreSQL that does not answer: the gateway starts and spools;
	// a reader gets the error.
	var logs testenv.Buffer
	gone := config.StoreLocation{Data: dir, Database: "postgres://postgres@127.0.0.1:1/nowhere?sslmode=disable&connect_timeout=1"}
	pg, err := OpenStore(t.Context(), gone, StoreOptions{Logger: newTestLogger(&logs)})
	if err != nil {
		t.Fatalf("serving open of an unreachable PostgreSQL: %v, want the store, to migrate later", err)
	}
	pg.Close()
	if !strings.Contains(logs.String(), "analytics store unreachable at start") {
		t.Errorf("the unreachable store was not logged:\n%s", logs.String())
	}
	if _, err := OpenStore(t.Context(), gone, StoreOptions{ReadOnly: true}); err == nil {
		t.Error("read-only open of an unreachable PostgreSQL succeeded")
	}
}

func TestOpenStorePostgres(t *testing.T) {
	loc := config.StoreLocation{Data: t.TempDir(), Database: testenv.Postgres(t)}
	if _, err := OpenStore(t.Context(), loc, StoreOptions{ReadOnly: true}); err == nil {
		t.Error("read-only open of a database portico serve never ran on succeeded")
	}
	w, err := OpenStore(t.Context(), loc, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := w.(store.SaltStore); !ok {
		t.Error("the shared store does not share the daily salt")
	}
	w.Close()
	r, err := OpenStore(t.Context(), loc, StoreOptions{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only open after the gateway migrated: %v", err)
	}
	if err := r.Ping(t.Context()); err != nil {
		t.Error(err)
	}
	r.Close()
}

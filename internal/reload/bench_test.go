package reload

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"portico/internal/clientip"
	"portico/internal/control"
	"portico/internal/manifest"
	"portico/internal/route"
	"portico/internal/route/routetest"
	"portico/internal/store/postgres"
	"portico/internal/store/sqlite"
	"portico/internal/store/storetest"
	"portico/internal/testenv"
)

// benchManifest is n file-v1 rules over domains hosts, as
// route.BenchmarkRedirect serves them.
func benchManifest(n, domains int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"rules":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"type":"file-v1","domain":"d%d.example.com","incoming-path":"/pkg%d/{version}/{os}/pkg%d.tar.gz","outgoing-url":"https://dl.example.com/pkg%d/{version}/pkg%d-{os}.tar.gz","package-id":"p%d"}`,
			i%domains, i, i, i, i, i)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// benchSource returns a source holding the rules of data: the manifest
// file itself, or a store of kind "sqlite" or "postgres" seeded with its
// rules as packages, with a local copy as a gateway keeps one, and the
// store.
func benchSource(b *testing.B, kind string, data []byte) (Source, control.Store) {
	b.Helper()
	dir := b.TempDir()
	if kind == "manifest" {
		path := filepath.Join(dir, "manifest.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			b.Fatal(err)
		}
		return NewFile(path, nil), nil
	}
	ctx := context.Background()
	var st control.Store
	switch kind {
	case "sqlite":
		s, err := sqlite.Open(ctx, sqlite.Config{Dir: dir})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		st = s
	case "postgres":
		s, err := postgres.Open(ctx, postgres.Config{URL: testenv.Postgres(b)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		st = s
	default:
		b.Fatalf("unknown source %q", kind)
	}
	m, err := manifest.Decode("bench.json", data)
	if err != nil {
		b.Fatal(err)
	}
	if err := storetest.SeedPackages(ctx, st, "bench", m.Rules); err != nil {
		b.Fatal(err)
	}
	return NewStore(StoreConfig{Store: st, LocalCopy: filepath.Join(dir, "routes.json")}), st
}

// readTable reads src in full and compiles its rules alone.
func readTable(tb testing.TB, src Source, opts route.Options) *route.Table {
	tb.Helper()
	set, err := src.Read(context.Background(), "")
	if err != nil {
		tb.Fatal(err)
	}
	t, err := route.CompileSets(opts, set)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

var benchSources = []string{"manifest", "sqlite", "postgres"}

// reportCPU reports the process's CPU time per iteration since cpu0:
// the machine may be shared, and CPU time is steadier than wall time.
// It leaves out what a database server does for the gateway.
func reportCPU(b *testing.B, cpu0 time.Duration, ok bool) {
	if cpu1, _ := cpuTime(); ok {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
	}
}

// nopWriter is the cheapest ResponseWriter, so that the benchmark counts
// the router's allocations alone.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

// BenchmarkRedirectFromStore serves route.BenchmarkRedirect's request from
// a table of 10,000 rules over 1,000 domains, compiled from a manifest
// and from the same rules as packages of each store, in one run: where
// the rules come from must not change what a request costs.
func BenchmarkRedirectFromStore(b *testing.B) {
	const rules, domains = 10000, 1000
	data := benchManifest(rules, domains)
	for _, kind := range benchSources {
		b.Run("source="+kind, func(b *testing.B) {
			src, _ := benchSource(b, kind, data)
			tbl := readTable(b, src, routetest.Options(b))
			if tbl.Rules() != rules || tbl.Domains() != domains {
				b.Fatalf("table of %d rules over %d domains, want %d over %d", tbl.Rules(), tbl.Domains(), rules, domains)
			}
			trusted, _ := clientip.ParseTrusted(clientip.DefaultTrusted)
			rt := route.NewRouter(tbl, trusted, nil, nil)
			i := rules / 2
			path := fmt.Sprintf("/pkg%d/v1.2.0/linux/pkg%d.tar.gz", i, i)
			req, _ := http.NewRequest("GET", "http://x"+path, nil)
			req.RequestURI = path
			req.Host = fmt.Sprintf("d%d.example.com", i%domains)
			req.RemoteAddr = "192.0.2.1:1234"
			req.Header.Set("User-Agent", "curl/8.5.0")
			w := &nopWriter{h: make(http.Header)}
			rt.ServeHTTP(w, req)
			if got, want := w.h.Get("Location"), fmt.Sprintf("https://dl.example.com/pkg%d/v1.2.0/pkg%d-linux.tar.gz", i, i); got != want {
				b.Fatalf("Location = %q, want %q", got, want)
			}
			b.ReportAllocs()
			cpu0, cpuOK := cpuTime()
			for b.Loop() {
				clear(w.h)
				rt.ServeHTTP(w, req)
			}
			reportCPU(b, cpu0, cpuOK)
		})
	}
}

// BenchmarkCompileFromStore reads 100,000 rules over 10,000 domains and
// compiles them into a table, from a manifest file and from each store,
// in one run: what a gateway does at startup, and today on every change
// to the store's packages.
func BenchmarkCompileFromStore(b *testing.B) {
	const rules, domains = 100000, 10000
	data := benchManifest(rules, domains)
	for _, kind := range benchSources {
		b.Run("source="+kind, func(b *testing.B) {
			src, _ := benchSource(b, kind, data)
			opts := routetest.Options(b)
			b.ReportAllocs()
			cpu0, cpuOK := cpuTime()
			for b.Loop() {
				if tbl := readTable(b, src, opts); tbl.Rules() != rules {
					b.Fatalf("table of %d rules, want %d", tbl.Rules(), rules)
				}
			}
			reportCPU(b, cpu0, cpuOK)
		})
	}
}

// BenchmarkStoreWrite changes one package of 100,000 over 10,000 domains
// in the store and reloads it, as every API write does on the replica
// that takes it and every change does on the others: what a change costs
// the gateway beside BenchmarkCompileFromStore's whole table.
func BenchmarkStoreWrite(b *testing.B) {
	const rules, domains = 100000, 10000
	data := benchManifest(rules, domains)
	for _, kind := range []string{"sqlite", "postgres"} {
		b.Run("source="+kind, func(b *testing.B) {
			src, st := benchSource(b, kind, data)
			loader := NewLoader([]Source{src}, routetest.Options(b), nil, nil)
			trusted, _ := clientip.ParseTrusted("")
			router, err := loader.Load(func(tbl *route.Table) *route.Router { return route.NewRouter(tbl, trusted, nil, nil) })
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			n := 0
			var i int
			b.ReportAllocs()
			cpu0, cpuOK := cpuTime()
			for b.Loop() {
				i = (n*7919 + 1) % rules
				n++
				err := st.Update(ctx, func(tx control.Tx) error {
					p, err := tx.Package(ctx, fmt.Sprintf("p%d", i))
					if err != nil {
						return err
					}
					p.Rule = fmt.Appendf(nil, `{"type":"file-v1","domain":"d%d.example.com","incoming-path":"/pkg%d/{version}/{os}/pkg%d.tar.gz","outgoing-url":"https://mirror%d.example.com/pkg%d/{version}/{os}.tar.gz"}`, i%domains, i, i, n, i)
					if err := tx.UpdatePackage(ctx, p); err != nil {
						return err
					}
					tx.RoutingChanged()
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				if swapped, err := loader.ReloadSource(src); !swapped || err != nil {
					b.Fatalf("reload after a change: swapped %v, err %v", swapped, err)
				}
			}
			reportCPU(b, cpu0, cpuOK)
			path := fmt.Sprintf("/pkg%d/v1/linux/pkg%d.tar.gz", i, i)
			req, _ := http.NewRequest("GET", fmt.Sprintf("http://d%d.example.com%s", i%domains, path), nil)
			req.RequestURI, req.RemoteAddr = path, "192.0.2.1:1234"
			w := &nopWriter{h: make(http.Header)}
			router.ServeHTTP(w, req)
			if got, want := w.h.Get("Location"), fmt.Sprintf("https://mirror%d.example.com/pkg%d/v1/linux.tar.gz", n, i); got != want {
				b.Fatalf("after the last change, Location = %q, want %q", got, want)
			}
		})
	}
}

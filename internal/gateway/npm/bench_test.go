package npm_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"portico/internal/clientip"
	"portico/internal/gateway/npm/npmtest"
	"portico/internal/manifest"
	"portico/internal/route"
)

type nopWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }
func (w *nopWriter) WriteHeader(c int)           { w.code = c }

// BenchmarkNPM measures a cached packument (abbreviated, as installs ask
// for it) and a tarball redirect, against a file-v1 redirect through the
// same router.
func BenchmarkNPM(b *testing.B) {
	f := &npmFixtures{}
	var versions []*pkgVersion
	for i := range 50 {
		versions = append(versions, buildPackage(b, "@acme/rocket-skates", fmt.Sprintf("1.%d.0", i), map[string]string{"wheelie": "^0.2.0"}))
	}
	f.up = newUpstreamRegistry(b, versions...)
	m, err := manifest.Decode("m.json", []byte(fmt.Sprintf(`{"rules":[
		{"type":"npm-v1","domain":"127.0.0.1","package-name":"@acme/*","package-id":"p","registry":%q,"cache-ttl":"1h"},
		{"type":"file-v1","domain":"127.0.0.1","incoming-path":"/dl/{version}/{file}","outgoing-url":"https://files.example.org/{version}/{file}","package-id":"p"}]}`, f.up.srv.URL)))
	if err != nil {
		b.Fatal(err)
	}
	trusted, _ := clientip.ParseTrusted("")
	table, err := route.Compile(m, route.Options{NPM: npmtest.Options(b)})
	if err != nil {
		b.Fatal(err)
	}
	rt := route.NewRouter(table, trusted, nil, nil)
	run := func(b *testing.B, target, accept string, want int) {
		req := httptest.NewRequest("GET", target, nil)
		req.Host = "127.0.0.1"
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		w := &nopWriter{h: make(http.Header)}
		rt.ServeHTTP(w, req) // warm the cache
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			rt.ServeHTTP(w, req)
		}
		if w.code != want {
			b.Fatalf("status %d, want %d", w.code, want)
		}
	}
	b.Run("baseline-file-v1-redirect", func(b *testing.B) { run(b, "/dl/1.0/x.tgz", "", 307) })
	b.Run("packument-abbreviated-cached", func(b *testing.B) {
		run(b, "/@acme%2frocket-skates", "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*", 200)
	})
	b.Run("packument-full-cached", func(b *testing.B) { run(b, "/@acme%2frocket-skates", "application/json", 200) })
	b.Run("tarball-redirect", func(b *testing.B) { run(b, "/@acme/rocket-skates/-/rocket-skates-1.25.0.tgz", "", 307) })
}

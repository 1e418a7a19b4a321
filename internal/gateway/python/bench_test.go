package python_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"portico/internal/clientip"
	"portico/internal/route"
)

// nopWriter is the cheapest ResponseWriter, so that the benchmarks count
// Portico's allocations, not a recorder's.
type nopWriter struct {
	h    http.Header
	code int
}

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(c int)           { w.code = c }

// benchServe serves one request repeatedly through the router, events
// off; want is the status every response must have.
func benchServe(b *testing.B, rt *route.Router, method, target, accept string, want int) {
	req := httptest.NewRequest(method, target, nil)
	req.Host = "127.0.0.1"
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	w := &nopWriter{h: make(http.Header)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		rt.ServeHTTP(w, req)
	}
	if w.code != want {
		b.Fatalf("status %d, want %d", w.code, want)
	}
}

const pipAccept = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"

// BenchmarkPython measures the index: a python-v1 project page of 100
// files (rendered at load), the same page from a python-index-v1 rule
// (rendered from the cached upstream page), file redirects of both, and
// a file-v1 redirect through the same router as the baseline.
func BenchmarkPython(b *testing.B) {
	f := newFixtures(b)
	var rules string
	for i := range 100 {
		rules += fmt.Sprintf(`{"type":"python-v1","domain":"127.0.0.1","package-name":"numpy","file-name":"numpy-1.%d.0.tar.gz","version":"1.%d.0",
			"backend-url":"https://files.example.org/numpy-1.%d.0.tar.gz","package-id":"p","hash-value":{"type":"sha256","hash":"%064d"}},`, i, i, i, i)
	}
	m := fmt.Sprintf(`{"rules":[%s
		{"type":"python-index-v1","domain":"127.0.0.1","package-name":"rocket-skates","package-id":"p","index-url":%q,"cache-ttl":"1h"},
		{"type":"file-v1","domain":"127.0.0.1","incoming-path":"/dl/{version}/{file}","outgoing-url":"https://files.example.org/{version}/{file}","package-id":"p"}]}`,
		rules, f.up.srv.URL+"/simple/")
	p := startPortico(b, m)
	// Events off: the recorder's growing slice would be measured too.
	trusted, _ := clientip.ParseTrusted("")
	rt := route.NewRouter(p.compile(b, m), trusted, nil, nil)
	// Warm the cache.
	if resp, err := http.Get(p.srv.URL + "/simple/rocket-skates/"); err != nil || resp.StatusCode != 200 {
		b.Fatal("warming the cache failed")
	}
	b.Run("baseline-file-v1-redirect", func(b *testing.B) { benchServe(b, rt, "GET", "/dl/1.0/x.tar.gz", "", 307) })
	b.Run("python-v1-page-html", func(b *testing.B) { benchServe(b, rt, "GET", "/simple/numpy/", "", 200) })
	b.Run("python-v1-page-json", func(b *testing.B) { benchServe(b, rt, "GET", "/simple/numpy/", pipAccept, 200) })
	b.Run("python-v1-file-redirect", func(b *testing.B) { benchServe(b, rt, "GET", "/simple/numpy/numpy-1.50.0.tar.gz", "", 307) })
	b.Run("index-rule-page-cached-json", func(b *testing.B) { benchServe(b, rt, "GET", "/simple/rocket-skates/", pipAccept, 200) })
	b.Run("index-rule-file-redirect", func(b *testing.B) {
		benchServe(b, rt, "GET", "/simple/rocket-skates/"+f.rocket.name, "", 307)
	})
}

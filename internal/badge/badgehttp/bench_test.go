package badgehttp

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// BenchmarkServe measures the handler alone, without the HTTP server:
// "baseline" writes a fixed badge with the same headers, the least any
// handler does; the others serve badges from warm caches, and "render"
// draws a new badge each time (its count cached). Besides ns/op it
// reports badges/s for one core.
func BenchmarkServe(b *testing.B) {
	h := newHandler(b, newMemCounts(), nil)
	fixed := h.render(&renderKey{kind: kindInstalls, maxAge: DefaultCacheSeconds})
	baseline := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fixed.write(w, r) })
	for _, bc := range []struct {
		name, target string
		h            http.Handler
	}{
		{"baseline", "/package/installs-badge/rocket-id", baseline},
		{"by-id", "/package/installs-badge/rocket-id", h},
		{"by-name", "/installs-badge/acme/rocket?package-type=docker", h},
		{"options", "/installs-badge/acme/rocket?package-type=docker&label=pulls&color=blue&logo=docker&style=for-the-badge&cache-seconds=600", h},
		{"endpoint", "/package/company-badge/rocket-id/endpoint", h},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", bc.target, nil)
			w := newDiscard()
			b.ReportAllocs()
			for b.Loop() {
				w.reset()
				bc.h.ServeHTTP(w, r)
			}
			if w.status != http.StatusOK {
				b.Fatalf("status %d", w.status)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "badges/s")
		})
	}
	b.Run("render", func(b *testing.B) {
		w := newDiscard()
		reqs := make([]*http.Request, 4096)
		for i := range reqs {
			reqs[i] = httptest.NewRequest("GET", "/package/installs-badge/rocket-id?label=v"+strconv.Itoa(i)+"&logo=docker", nil)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			w.reset()
			h.ServeHTTP(w, reqs[i%len(reqs)])
			i++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "badges/s")
	})
}

// BenchmarkHTTP serves badges through a real HTTP server on loopback to a
// client in the same process, one request at a time on kept-alive
// connections, alternating with the fixed badge of BenchmarkServe's
// baseline on a server of its own so that both see the same load on the
// machine. It reports the time of each per request, client included,
// and their ratio: what a badge costs over a bare net/http handler.
func BenchmarkHTTP(b *testing.B) {
	h := newHandler(b, newMemCounts(), nil)
	fixed := h.render(&renderKey{kind: kindInstalls, maxAge: DefaultCacheSeconds})
	base := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fixed.write(w, r) }))
	defer base.Close()
	srv := httptest.NewServer(h)
	defer srv.Close()
	const target = "/installs-badge/acme/rocket?package-type=docker&logo=docker"
	get := func(c *http.Client, url string) time.Duration {
		start := time.Now()
		resp, err := c.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
		return time.Since(start)
	}
	var tBase, tBadge time.Duration
	b.ReportAllocs()
	for b.Loop() {
		tBase += get(base.Client(), base.URL+target)
		tBadge += get(srv.Client(), srv.URL+target)
	}
	b.ReportMetric(float64(tBase.Nanoseconds())/float64(b.N), "baseline-ns/req")
	b.ReportMetric(float64(tBadge.Nanoseconds())/float64(b.N), "badge-ns/req")
	b.ReportMetric(float64(tBadge)/float64(tBase), "badge/baseline")
}

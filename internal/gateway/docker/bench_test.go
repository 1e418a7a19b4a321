package docker_test

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"testing"
)

// BenchmarkProxyBlob downloads one blob directly from a registry-like
// server, through Portico's proxy, and through a plain
// httputil.ReverseProxy, in the same run: compare the MB/s of the three.
func BenchmarkProxyBlob(b *testing.B) {
	const size = 64 << 20
	blob := make([]byte, size)
	rand.Read(blob)
	digest := fmt.Sprintf("sha256:%x", sha256.Sum256(blob))
	path := "/v2/acme/big/blobs/" + digest
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		w.Header().Set("Docker-Content-Digest", digest)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(blob)
	}))
	defer origin.Close()

	opts := newOptions(b)
	tab := compile(b, manifestOf(v1Rule("acme/big", origin.URL, `"mode":"proxy"`)), opts)
	gw := httptest.NewServer(routeRouter(tab))
	defer gw.Close()
	u, _ := url.Parse(origin.URL)
	rp := httptest.NewServer(httputil.NewSingleHostReverseProxy(u))
	defer rp.Close()

	for _, tc := range []struct{ name, base, host string }{
		{"direct", origin.URL, ""},
		{"portico", gw.URL, "gw.test"},
		{"reverseproxy", rp.URL, ""},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := &http.Client{Transport: &http.Transport{DisableCompression: true}}
			defer c.CloseIdleConnections()
			b.SetBytes(size)
			for b.Loop() {
				req, _ := http.NewRequest(http.MethodGet, tc.base+path, nil)
				if tc.host != "" {
					req.Host = tc.host
				}
				req.Header.Set("User-Agent", "bench")
				resp, err := c.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || n != size || resp.StatusCode != 200 {
					b.Fatalf("status %d, %d bytes, %v", resp.StatusCode, n, err)
				}
			}
		})
	}
}

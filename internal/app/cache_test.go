package app

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestCacheDir runs the process with --cache-dir and a docker rule in
// cache mode: a layer fetched twice reaches the registry once, is kept
// under the directory, and the cache's metrics say so.
func TestCacheDir(t *testing.T) {
	var blobGets atomic.Int64
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			blobGets.Add(1)
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(reg.Close)
	img, err := random.Image(4096, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(strings.TrimPrefix(reg.URL, "http://")+"/acme/app:1.0", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	digest, _ := layers[0].Digest()
	blobGets.Store(0)

	cfg := testConfig(t)
	if err := os.WriteFile(cfg.Manifest, []byte(`{"rules":[{"type":"docker-v1","domain":"cr.test","package-id":"p","repository-name":"acme/app","registry":"`+reg.URL+`","mode":"cache"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.CacheDir = filepath.Join(t.TempDir(), "cache")
	a, err := New(t.Context(), cfg, io.Discard, newTestLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Error("Run did not return")
		}
	}()

	gw := "http://" + a.gw.Addr().String()
	get := func(path, auth string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, gw+path, nil)
		req.Host = "cr.test"
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	_, body := get("/v2/token?service=cr.test&scope=repository:acme/app:pull", "")
	var tok struct{ Token string }
	if err := json.Unmarshal(body, &tok); err != nil || tok.Token == "" {
		t.Fatalf("token: %s (%v)", body, err)
	}
	want, _ := layers[0].Compressed()
	wantBytes, _ := io.ReadAll(want)
	for i := range 2 {
		resp, got := get("/v2/acme/app/blobs/"+digest.String(), "Bearer "+tok.Token)
		if resp.StatusCode != 200 || string(got) != string(wantBytes) || resp.Header.Get("Docker-Content-Digest") != digest.String() {
			t.Fatalf("GET %d: status %d, %d bytes", i, resp.StatusCode, len(got))
		}
		for range 500 {
			if _, err := os.Stat(filepath.Join(cfg.CacheDir, "objects", "sha256-"+digest.Hex)); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if n := blobGets.Load(); n != 1 {
		t.Errorf("the registry got %d blob requests, want 1", n)
	}
	resp, err := http.Get("http://" + a.ops.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range []string{"portico_cache_hits_total 1", "portico_cache_misses_total 1", "portico_cache_objects 1"} {
		if !strings.Contains(string(metrics), line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}
}

// TestCacheDirFallback serves a blob through the proxy cache of a rule
// whose registry is stopped: the assembled process fetches the miss from
// the rule's fallback, serves the next request from the cache, and
// /metrics shows both: the cache's miss and hit, and the fallback's
// service.
func TestCacheDirFallback(t *testing.T) {
	var blobGets atomic.Int64
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	fb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			blobGets.Add(1)
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(fb.Close)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	img, err := random.Image(4096, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(strings.TrimPrefix(fb.URL, "http://")+"/acme/app:1.0", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	digest, _ := layers[0].Digest()
	blobGets.Store(0)

	cfg := testConfig(t)
	if err := os.WriteFile(cfg.Manifest, []byte(`{"rules":[{"type":"docker-v1","domain":"cr.test","package-id":"p","repository-name":"acme/app","registry":"`+dead.URL+`","fallback":"`+fb.URL+`","mode":"cache"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.CacheDir = filepath.Join(t.TempDir(), "cache")
	cfg.ProbeInterval = 0 // only requests mark the registry down
	a, err := New(t.Context(), cfg, io.Discard, newTestLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Error("Run did not return")
		}
	}()

	gw := "http://" + a.gw.Addr().String()
	get := func(path, auth string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, gw+path, nil)
		req.Host = "cr.test"
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	_, body := get("/v2/token?service=cr.test&scope=repository:acme/app:pull", "")
	var tok struct{ Token string }
	if err := json.Unmarshal(body, &tok); err != nil || tok.Token == "" {
		t.Fatalf("token: %s (%v)", body, err)
	}
	want, _ := layers[0].Compressed()
	wantBytes, _ := io.ReadAll(want)
	for i := range 2 {
		resp, got := get("/v2/acme/app/blobs/"+digest.String(), "Bearer "+tok.Token)
		if resp.StatusCode != 200 || string(got) != string(wantBytes) {
			t.Fatalf("GET %d with the registry stopped: status %d, %d bytes", i, resp.StatusCode, len(got))
		}
		for range 500 {
			if _, err := os.Stat(filepath.Join(cfg.CacheDir, "objects", "sha256-"+digest.Hex)); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if n := blobGets.Load(); n != 1 {
		t.Errorf("the fallback got %d blob requests, want 1", n)
	}
	resp, err := http.Get("http://" + a.ops.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fbHost := strings.TrimPrefix(fb.URL, "http://")
	for _, line := range []string{
		"portico_cache_hits_total 1",
		"portico_cache_misses_total 1",
		`portico_backend_served_total{backend="` + fbHost + `",role="fallback"} 1`,
	} {
		if !strings.Contains(string(metrics), line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}
	if t.Failed() {
		for _, l := range strings.Split(string(metrics), "\n") {
			if strings.HasPrefix(l, "portico_backend") || strings.HasPrefix(l, "portico_cache") {
				t.Log(l)
			}
		}
	}
}

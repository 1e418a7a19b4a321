package docker_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"portico/internal/blobcache"
	"portico/internal/event"
)

// TestCachePull pulls an image through a cache rule from a registry with
// token auth: the second pull asks the registry for no blob, and once
// the registry is gone the image still pulls, its tag served stale.
func TestCachePull(t *testing.T) {
	reg := newRegistry(t, regOpts{auth: true})
	img := randomImage(t, 256<<10, 3)
	reg.pushImage(t, "acme/app", "1.0", img)
	want := digestOf(t, img)

	c, err := blobcache.Open(blobcache.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	opts := newOptions(t)
	// Every pull asks for the tag again: the stale path is taken as
	// soon as the registry is gone.
	opts.Docker.Proxy.SetCache(c, time.Nanosecond)
	g := startGatewayWith(t, manifestOf(v1Rule("acme/app", "http://"+reg.Addr, `"mode":"cache"`)), opts)

	blobRequests := func() int {
		n := 0
		for _, r := range reg.Requests() {
			if strings.Contains(r.Path, "/blobs/") {
				n++
			}
		}
		return n
	}
	reg.reset()
	if got, err := pullImage(t, g.Addr+"/acme/app:1.0"); err != nil || got != want {
		t.Fatalf("first pull: %s, %v; want %s", got, err, want)
	}
	if n := blobRequests(); n != 4 {
		t.Errorf("first pull: the registry got %d blob requests, want 4 (config and 3 layers)", n)
	}
	waitFor(t, "the objects to be kept", func() bool { _, n := c.Size(); return n == 5 })

	reg.reset()
	if got, err := pullImage(t, g.Addr+"/acme/app:1.0"); err != nil || got != want {
		t.Fatalf("second pull: %s, %v", got, err)
	}
	if n := blobRequests(); n != 0 {
		t.Errorf("second pull: the registry got %d blob requests, want 0", n)
	}

	tok := fetchToken(t, g.Addr, "acme/app")
	getTag := func() *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+g.Addr+"/v2/acme/app/manifests/1.0", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := getTag(); resp.StatusCode != 200 || resp.Header.Get("Warning") != "" {
		t.Fatalf("a tag: status %d, Warning %q", resp.StatusCode, resp.Header.Get("Warning"))
	}

	reg.srv.Close()
	if got, err := pullImage(t, g.Addr+"/acme/app:1.0"); err != nil || got != want {
		t.Fatalf("pull with the registry gone: %s, %v", got, err)
	}
	resp := getTag()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Warning"), "110") || resp.Header.Get("Docker-Content-Digest") != want.String() {
		t.Errorf("a tag with the registry gone: status %d, Warning %q, digest %q", resp.StatusCode, resp.Header.Get("Warning"), resp.Header.Get("Docker-Content-Digest"))
	}
	// A blob by digest, with a range, from the cache.
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	req, _ := http.NewRequest(http.MethodGet, "http://"+g.Addr+"/v2/acme/app/blobs/"+ld.String(), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Range", "bytes=0-9")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || resp.ContentLength != 10 {
		t.Errorf("a range of a cached blob: status %d, length %d", resp.StatusCode, resp.ContentLength)
	}

	pulls := g.events.pulls()
	if len(pulls) != 5 {
		t.Fatalf("%d pull events, want 5", len(pulls))
	}
	for _, e := range pulls {
		if e.Outcome != event.OutcomeProxy || e.Docker.Digest != want.String() || !strings.Contains(e.Docker.MediaType, "manifest") {
			t.Errorf("pull event %+v", e)
		}
	}
}

// TestCacheCorruptBlob has the registry send a layer with one byte
// changed: the pull fails, the layer is not kept, and once the registry
// sends the right bytes the pull succeeds.
func TestCacheCorruptBlob(t *testing.T) {
	reg := newRegistry(t, regOpts{})
	img := randomImage(t, 64<<10, 1)
	reg.pushImage(t, "acme/app", "1.0", img)
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	c, err := blobcache.Open(blobcache.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	opts := newOptions(t)
	opts.Docker.Proxy.SetCache(c, time.Minute)
	g := startGatewayWith(t, manifestOf(v1Rule("acme/app", "http://"+reg.Addr, `"mode":"cache"`)), opts)

	reg.mu.Lock()
	reg.serve = func(w http.ResponseWriter, r *http.Request, inner http.Handler) bool {
		if !strings.HasSuffix(r.URL.Path, "/blobs/"+ld.String()) || r.Method != http.MethodGet {
			return false
		}
		rec := httptest.NewRecorder()
		inner.ServeHTTP(rec, r)
		b := rec.Body.Bytes()
		b[len(b)/2] ^= 0xff
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
		return true
	}
	reg.mu.Unlock()
	if _, err := pullImage(t, g.Addr+"/acme/app:1.0"); err == nil {
		t.Fatal("a pull of a corrupt layer succeeded")
	}
	d, _ := blobcache.ParseOCI(ld.String())
	if c.Has(d) {
		t.Fatal("the corrupt layer was kept")
	}
	reg.mu.Lock()
	reg.serve = nil
	reg.mu.Unlock()
	if got, err := pullImage(t, g.Addr+"/acme/app:1.0"); err != nil || got != digestOf(t, img) {
		t.Fatalf("pull after the registry mended: %s, %v", got, err)
	}
	waitFor(t, "the layer to be kept", func() bool { return c.Has(d) })
}

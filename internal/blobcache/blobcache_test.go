package blobcache

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// origin is an upstream serving objects by their sha256 hex, counting
// requests; its behaviour for a request is set per test.
type origin struct {
	srv      *httptest.Server
	requests atomic.Int64
	mu       sync.Mutex
	objects  map[string][]byte
	// serve, when set, answers instead of the plain object.
	serve func(w http.ResponseWriter, r *http.Request, body []byte)
}

func newOrigin(t *testing.T) *origin {
	o := &origin{objects: make(map[string][]byte)}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.requests.Add(1)
		o.mu.Lock()
		body, ok := o.objects[r.URL.Path[1:]]
		serve := o.serve
		o.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		if serve != nil {
			serve(w, r, body)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *origin) add(body []byte) Digest {
	sum := sha256.Sum256(body)
	d, _ := ParseHex("sha256", hex.EncodeToString(sum[:]))
	o.mu.Lock()
	o.objects[d.Hex()] = body
	o.mu.Unlock()
	return d
}

var errNotFound = errors.New("not on the upstream")

// front is a gateway serving /<hex> through the cache from o.
func front(t *testing.T, c *Cache, o *origin) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := ParseHex("sha256", r.URL.Path[1:])
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, err = c.Serve(w, r, d, "application/octet-stream", func(h http.Header) { h.Set("X-Digest", d.String()) },
			func(ctx context.Context) (io.ReadCloser, int64, error) {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, o.srv.URL+"/"+d.Hex(), nil)
				resp, err := o.srv.Client().Do(req)
				if err != nil {
					return nil, 0, err
				}
				if resp.StatusCode != http.StatusOK {
					resp.Body.Close()
					return nil, 0, errNotFound
				}
				return resp.Body, resp.ContentLength, nil
			})
		if errors.Is(err, errNotFound) {
			http.NotFound(w, r)
		} else if err != nil && w.Header().Get("X-Digest") == "" {
			http.Error(w, err.Error(), http.StatusBadGateway)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func open(t *testing.T, dir string, max int64) *Cache {
	c, err := Open(Options{Dir: dir, MaxBytes: max, Stall: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// get fetches url, returning the status, the body and the read error.
func get(t *testing.T, url string, header ...string) (int, []byte, error) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// waitKept waits for the transfer of d to be kept: the client gets its
// last byte before the object is synced and renamed.
func waitKept(t *testing.T, c *Cache, d Digest) {
	t.Helper()
	for range 500 {
		if c.Has(d) {
			// Eviction, under the lock, is over too.
			c.mu.Lock()
			c.mu.Unlock() //nolint:staticcheck // a barrier
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s was not kept", d)
}

func TestMissThenHit(t *testing.T) {
	o := newOrigin(t)
	c := open(t, t.TempDir(), 0)
	srv := front(t, c, o)
	body := random(t, 3<<20+17)
	d := o.add(body)
	for i := range 3 {
		status, got, err := get(t, srv.URL+"/"+d.Hex())
		if err != nil || status != 200 || !bytes.Equal(got, body) {
			t.Fatalf("request %d: status %d, %d bytes, err %v", i, status, len(got), err)
		}
		waitKept(t, c, d)
	}
	if n := o.requests.Load(); n != 1 {
		t.Errorf("upstream asked %d times, want 1", n)
	}
	if size, n := c.Size(); size != int64(len(body)) || n != 1 {
		t.Errorf("Size = %d bytes, %d objects", size, n)
	}
	status, _, _ := get(t, srv.URL+"/"+hex.EncodeToString(make([]byte, 32)))
	if status != http.StatusNotFound {
		t.Errorf("an object the upstream lacks: status %d, want 404", status)
	}
}

func TestRange(t *testing.T) {
	o := newOrigin(t)
	c := open(t, t.TempDir(), 0)
	srv := front(t, c, o)
	body := random(t, 100000)
	d := o.add(body)
	// On a miss the range waits for the whole; then from the file.
	for i := range 2 {
		status, got, err := get(t, srv.URL+"/"+d.Hex(), "Range", "bytes=1000-1999")
		if err != nil || status != http.StatusPartialContent || !bytes.Equal(got, body[1000:2000]) {
			t.Fatalf("request %d: status %d, %d bytes, err %v", i, status, len(got), err)
		}
		waitKept(t, c, d)
	}
	status, got, err := get(t, srv.URL+"/"+d.Hex(), "Range", "bytes=-10")
	if err != nil || status != http.StatusPartialContent || !bytes.Equal(got, body[len(body)-10:]) {
		t.Fatalf("suffix range: status %d, %q, err %v", status, got, err)
	}
	status, _, _ = get(t, srv.URL+"/"+d.Hex(), "If-None-Match", `"`+d.String()+`"`)
	if status != http.StatusNotModified {
		t.Errorf("If-None-Match with the digest: status %d, want 304", status)
	}
}

// TestConcurrentOneFetch starts many clients of one object while the
// upstream holds it back: one upstream request serves them all, each
// reading while the bytes arrive.
func TestConcurrentOneFetch(t *testing.T) {
	o := newOrigin(t)
	c := open(t, t.TempDir(), 0)
	srv := front(t, c, o)
	body := random(t, 4<<20)
	d := o.add(body)
	release := make(chan struct{})
	o.serve = func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body[:1<<20])
		w.(http.Flusher).Flush()
		<-release
		_, _ = w.Write(body[1<<20:])
	}
	const clients = 8
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for range clients {
		wg.Go(func() {
			status, got, err := get(t, srv.URL+"/"+d.Hex())
			if err == nil && (status != 200 || !bytes.Equal(got, body)) {
				err = errors.New("wrong answer: status " + strconv.Itoa(status))
			}
			errs <- err
		})
	}
	// Every client is waiting on the one transfer before it goes on.
	for testutil.ToFloat64(c.m.misses) < clients {
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := o.requests.Load(); n != 1 {
		t.Errorf("upstream asked %d times for %d clients, want 1", n, clients)
	}
}

// TestCorruptNeverKept sends wrong, short and reset bodies: no client
// gets a complete body, and nothing is kept.
func TestCorruptNeverKept(t *testing.T) {
	body := random(t, 2<<20)
	cases := map[string]func(w http.ResponseWriter, r *http.Request, body []byte){
		"wrong bytes": func(w http.ResponseWriter, r *http.Request, body []byte) {
			bad := bytes.Clone(body)
			bad[len(bad)-1] ^= 1
			w.Header().Set("Content-Length", strconv.Itoa(len(bad)))
			_, _ = w.Write(bad)
		},
		"wrong bytes, no length": func(w http.ResponseWriter, r *http.Request, body []byte) {
			bad := bytes.Clone(body)
			bad[0] ^= 1
			_, _ = w.Write(bad)
		},
		"short body": func(w http.ResponseWriter, r *http.Request, body []byte) {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			_, _ = w.Write(body[:len(body)-100])
			hijackClose(w, false)
		},
		"short, no length": func(w http.ResponseWriter, r *http.Request, body []byte) {
			_, _ = w.Write(body[:len(body)-100])
		},
		"reset mid-body": func(w http.ResponseWriter, r *http.Request, body []byte) {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			_, _ = w.Write(body[:len(body)/2])
			hijackClose(w, true)
		},
	}
	for name, serve := range cases {
		t.Run(name, func(t *testing.T) {
			o := newOrigin(t)
			c := open(t, t.TempDir(), 0)
			srv := front(t, c, o)
			d := o.add(body)
			o.serve = serve
			status, got, err := get(t, srv.URL+"/"+d.Hex())
			if err == nil && status == 200 && len(got) == len(body) {
				t.Fatalf("the client got a complete body of %d bytes", len(got))
			}
			if err == nil && status == 200 {
				t.Fatalf("a cut body read without error: %d bytes", len(got))
			}
			time.Sleep(50 * time.Millisecond)
			if c.Has(d) {
				t.Fatal("a corrupt object was kept")
			}
			if n := entriesIn(t, c.tmp) + entriesIn(t, c.objects); n != 0 {
				t.Errorf("%d files left behind", n)
			}
			// The upstream mends: the next request fetches again.
			o.mu.Lock()
			o.serve = nil
			o.mu.Unlock()
			status, got, err = get(t, srv.URL+"/"+d.Hex())
			if err != nil || status != 200 || !bytes.Equal(got, body) {
				t.Fatalf("after the upstream mended: status %d, %d bytes, err %v", status, len(got), err)
			}
		})
	}
}

func hijackClose(w http.ResponseWriter, reset bool) {
	w.(http.Flusher).Flush()
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok && reset {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

func entriesIn(t *testing.T, dir string) int {
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(des)
}

func TestRestart(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, 0)
	kept := random(t, 1000)
	sum := sha256.Sum256(kept)
	d, _ := ParseHex("sha256", hex.EncodeToString(sum[:]))
	if err := c.Put(d, kept); err != nil {
		t.Fatal(err)
	}
	c.Close()
	// An interrupted transfer, and a stray file among the objects.
	partial := random(t, 500)
	psum := sha256.Sum256(partial)
	pd, _ := ParseHex("sha256", hex.EncodeToString(psum[:]))
	if err := os.WriteFile(filepath.Join(dir, "tmp", pd.name()+".123"), partial[:200], 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "objects", "notes.txt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	c = open(t, dir, 0)
	if !c.Has(d) {
		t.Error("the object kept before the restart is gone")
	}
	if c.Has(pd) {
		t.Error("an interrupted transfer is served")
	}
	if n := entriesIn(t, c.tmp); n != 0 {
		t.Errorf("%d interrupted transfers left", n)
	}
	if n := entriesIn(t, c.objects); n != 1 {
		t.Errorf("%d files among the objects, want 1", n)
	}
	got, ok := c.Get(d, 1<<20)
	if !ok || !bytes.Equal(got, kept) {
		t.Error("Get after the restart returned other bytes")
	}
	if err := c.Put(pd, partial[:200]); err == nil {
		t.Error("Put accepted bytes that do not hash to the digest")
	}
}

func TestEvictionLRU(t *testing.T) {
	o := newOrigin(t)
	c := open(t, t.TempDir(), 3*1000)
	srv := front(t, c, o)
	var ds []Digest
	for range 4 {
		ds = append(ds, o.add(random(t, 1000)))
	}
	fetch := func(d Digest) {
		t.Helper()
		if status, _, err := get(t, srv.URL+"/"+d.Hex()); err != nil || status != 200 {
			t.Fatalf("status %d, err %v", status, err)
		}
		waitKept(t, c, d)
	}
	fetch(ds[0])
	fetch(ds[1])
	fetch(ds[2])
	fetch(ds[0]) // a hit: ds[1] is now the least recently used
	fetch(ds[3])
	if size, n := c.Size(); size > 3000 || n != 3 {
		t.Errorf("Size = %d bytes, %d objects; cap 3000", size, n)
	}
	for i, want := range []bool{true, false, true, true} {
		if c.Has(ds[i]) != want {
			t.Errorf("object %d kept: %v, want %v", i, !want, want)
		}
	}
	if n := entriesIn(t, c.objects); n != 3 {
		t.Errorf("%d files, want 3", n)
	}
	// Larger than the cap: served, not kept.
	big := o.add(random(t, 5000))
	if status, got, err := get(t, srv.URL+"/"+big.Hex()); err != nil || status != 200 || len(got) != 5000 {
		t.Fatalf("an object over the cap: status %d, %q, err %v", status, got, err)
	}
	time.Sleep(50 * time.Millisecond)
	if c.Has(big) {
		t.Error("an object over the cap was kept")
	}
}

func TestParse(t *testing.T) {
	body := []byte("hello")
	s512 := sha512.Sum512(body)
	s256 := sha256.Sum256(body)
	sri := "sha256-" + base64.StdEncoding.EncodeToString(s256[:]) + " sha512-" + base64.StdEncoding.EncodeToString(s512[:])
	d, err := ParseSRI(sri)
	if err != nil || d.Algorithm() != "sha512" || d.Hex() != hex.EncodeToString(s512[:]) {
		t.Errorf("ParseSRI(%q) = %v, %v; want the sha512", sri, d, err)
	}
	for _, bad := range []string{"", "sha512-!!", "md5-" + base64.StdEncoding.EncodeToString(s256[:16]), "sha512-" + base64.StdEncoding.EncodeToString(s256[:])} {
		if _, err := ParseSRI(bad); err == nil {
			t.Errorf("ParseSRI(%q) accepted", bad)
		}
	}
	if _, err := ParseOCI("sha256:" + hex.EncodeToString(s256[:])); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"sha256:abc", "sha256:" + hex.EncodeToString(s256[:])[:63] + "g", "sha1:" + hex.EncodeToString(s256[:20]), "nothing"} {
		if _, err := ParseOCI(bad); err == nil {
			t.Errorf("ParseOCI(%q) accepted", bad)
		}
	}
}

// TestSlowClientHoldsNoOne starts a transfer with a client that never
// reads its body: another client of the same object still gets it whole
// and the object is kept, with a stall bound that would never cut the
// first.
func TestSlowClientHoldsNoOne(t *testing.T) {
	o := newOrigin(t)
	c, err := Open(Options{Dir: t.TempDir(), Stall: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	srv := front(t, c, o)
	body := random(t, 32<<20)
	d := o.add(body)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	if _, err := conn.Write([]byte("GET /" + d.Hex() + " HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	for testutil.ToFloat64(c.m.misses) < 1 {
		time.Sleep(5 * time.Millisecond)
	}
	status, got, err := get(t, srv.URL+"/"+d.Hex())
	if err != nil || status != 200 || !bytes.Equal(got, body) {
		t.Fatalf("the second client: status %d, %d bytes, err %v", status, len(got), err)
	}
	waitKept(t, c, d)
	if n := o.requests.Load(); n != 1 {
		t.Errorf("upstream asked %d times, want 1", n)
	}
}

// fileWriter is a ResponseWriter that notes whether the body reached
// ReadFrom as a file, which the server sends with sendfile.
type fileWriter struct {
	http.ResponseWriter
	fromFile atomic.Int64
}

func (fw *fileWriter) ReadFrom(src io.Reader) (int64, error) {
	if lr, ok := src.(*io.LimitedReader); ok {
		if _, ok := lr.R.(*os.File); ok {
			fw.fromFile.Add(1)
		}
	}
	return fw.ResponseWriter.(io.ReaderFrom).ReadFrom(src)
}

// TestSendfile checks that hits, and clients of a transfer in progress,
// hand the server a file, the form it sends with sendfile.
func TestSendfile(t *testing.T) {
	o := newOrigin(t)
	c := open(t, t.TempDir(), 0)
	body := random(t, 3<<20)
	d := o.add(body)
	var writes []*fileWriter
	var mu sync.Mutex
	h := front(t, c, o).Config.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fw := &fileWriter{ResponseWriter: w}
		mu.Lock()
		writes = append(writes, fw)
		mu.Unlock()
		h.ServeHTTP(fw, r)
	}))
	t.Cleanup(srv.Close)
	for range 2 {
		if status, got, err := get(t, srv.URL+"/"+d.Hex()); err != nil || status != 200 || !bytes.Equal(got, body) {
			t.Fatalf("status %d, %d bytes, %v", status, len(got), err)
		}
		waitKept(t, c, d)
	}
	for i, fw := range writes {
		if fw.fromFile.Load() == 0 {
			t.Errorf("request %d: the body never reached ReadFrom as a file", i)
		}
	}
}

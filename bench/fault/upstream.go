package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A fault is how the fault upstream answers an artifact (a blob, a
// tarball, a project page).
type fault string

const (
	faultNone    fault = "healthy"
	faultDown    fault = "down"           // nothing listens: connection refused
	fault500     fault = "500"            // 500 Internal Server Error
	faultReset   fault = "reset mid-body" // half the body, then a TCP RST
	faultShort   fault = "short body"     // half of Content-Length, then a clean close
	faultChunked fault = "chunked cut"    // chunked, half the body, no last chunk
	faultStall   fault = "stall mid-body" // half the body, then nothing, connection open
	faultSlow    fault = "slow"           // the whole body, 32 KiB every 100ms
	faultHang    fault = "no answer"      // accepts, reads the request, never answers
)

// faultUpstream is a docker registry, an npm registry and a Python index
// in one, whose artifacts fail as its current fault says.
type faultUpstream struct {
	addr  string
	mu    sync.Mutex
	ln    net.Listener
	srv   *http.Server
	fault atomic.Value // fault
	blob  []byte
	stop  chan struct{} // closed at the end, to free stalled handlers
}

func newFaultUpstream() (*faultUpstream, error) {
	u := &faultUpstream{blob: make([]byte, 1<<20), stop: make(chan struct{})}
	if _, err := rand.Read(u.blob); err != nil {
		return nil, err
	}
	u.fault.Store(faultNone)
	u.addr = freePort()
	return u, u.up()
}

func (u *faultUpstream) digest() string {
	s := sha256.Sum256(u.blob)
	return "sha256:" + hex.EncodeToString(s[:])
}

func (u *faultUpstream) integrity() string {
	s := sha512.Sum512(u.blob)
	return "sha512-" + base64.StdEncoding.EncodeToString(s[:])
}

// up starts listening on u.addr again.
func (u *faultUpstream) up() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", u.addr)
	if err != nil {
		return err
	}
	u.ln = ln
	u.srv = &http.Server{Handler: u}
	go u.srv.Serve(ln)
	return nil
}

// down closes the listener and every connection: the upstream is gone.
func (u *faultUpstream) down() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.ln != nil {
		u.srv.Close()
		u.ln = nil
	}
}

func (u *faultUpstream) close() {
	close(u.stop)
	u.down()
}

// projectPage is the Python project page of project: four files.
func (u *faultUpstream) projectPage(project string) []byte {
	var b bytes.Buffer
	b.WriteString("<!DOCTYPE html><html><body>\n")
	for i := range 4 {
		f := fmt.Sprintf("%s-1.0.%d.tar.gz", project, i)
		fmt.Fprintf(&b, "<a href=\"http://%s/files/%s#sha256=%064d\">%s</a><br>\n", u.addr, f, i, f)
	}
	// Padding, so that half the page is still a page that parses.
	b.WriteString("<!--" + strings.Repeat("x", 64<<10) + "-->\n</body></html>\n")
	return b.Bytes()
}

func (u *faultUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/v2/":
		w.WriteHeader(http.StatusOK)
		return
	case p == "/pkg":
		// The packument is always healthy: the faults are the tarball's.
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"name":"pkg","dist-tags":{"latest":"1.0.0"},"versions":{"1.0.0":{"name":"pkg","version":"1.0.0","dist":{"tarball":"http://%s/pkg/-/pkg-1.0.0.tgz","integrity":"%s"}}}}`,
			u.addr, u.integrity())
		return
	case strings.HasPrefix(p, "/v2/") && strings.Contains(p, "/blobs/"):
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Docker-Content-Digest", u.digest())
		u.serveArtifact(w, r, u.blob)
	case p == "/pkg/-/pkg-1.0.0.tgz":
		w.Header().Set("Content-Type", "application/octet-stream")
		u.serveArtifact(w, r, u.blob)
	case strings.HasPrefix(p, "/simple/"):
		w.Header().Set("Content-Type", "text/html")
		u.serveArtifact(w, r, u.projectPage(strings.Trim(strings.TrimPrefix(p, "/simple/"), "/")))
	default:
		http.NotFound(w, r)
	}
}

func (u *faultUpstream) serveArtifact(w http.ResponseWriter, r *http.Request, body []byte) {
	f := u.fault.Load().(fault)
	half := body[:len(body)/2]
	switch f {
	case fault500:
		http.Error(w, "upstream trouble", http.StatusInternalServerError)
		return
	case faultHang:
		select {
		case <-r.Context().Done():
		case <-u.stop:
		}
		return
	case faultChunked:
		// No Content-Length: net/http sends chunks; hijacking after
		// a flush closes the connection without the last chunk.
		w.Write(half)
		w.(http.Flusher).Flush()
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			c.Close()
		}
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	switch f {
	case faultNone:
		w.Write(body)
	case faultSlow:
		for i := 0; i < len(body); i += 32 << 10 {
			w.Write(body[i:min(i+32<<10, len(body))])
			w.(http.Flusher).Flush()
			time.Sleep(100 * time.Millisecond)
		}
	case faultReset, faultShort:
		w.Write(half)
		w.(http.Flusher).Flush()
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		if tc, ok := c.(*net.TCPConn); ok && f == faultReset {
			tc.SetLinger(0) // close sends RST
		}
		c.Close()
	case faultStall:
		w.Write(half)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-u.stop:
		}
	}
}

// outcome is what a client made of one download.
type outcome string

const (
	gotComplete outcome = "complete and correct"
	gotError    outcome = "error status"
	gotBroken   outcome = "transfer error (detected)"
	gotWrong    outcome = "WRONG: a complete-looking wrong body"
)

// fetch downloads url with Host host and classifies what the client saw;
// check tells a correct body.
func fetch(c *http.Client, url, host string, check func([]byte) bool) (outcome, string) {
	req, _ := http.NewRequest("GET", url, nil)
	req.Host = host
	req.Header.Set("User-Agent", "fault-test/1.0")
	resp, err := c.Do(req)
	if err != nil {
		return gotBroken, err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 {
		return gotError, resp.Status
	}
	if err != nil {
		return gotBroken, fmt.Sprintf("%s, then %v after %d bytes", resp.Status, err, len(body))
	}
	if resp.StatusCode != http.StatusOK || !check(body) {
		return gotWrong, fmt.Sprintf("%s with %d bytes (Content-Length %d)", resp.Status, len(body), resp.ContentLength)
	}
	return gotComplete, fmt.Sprintf("%s, %d bytes", resp.Status, len(body))
}

// upstreamFaults downloads a docker blob through a proxy rule, an npm
// tarball through an always-proxy rule and a Python project page, from an
// upstream that is down, answers 500, hangs, stalls, resets or cuts the
// body, or is slow. A client must see an error or a body it can tell is
// short, never a complete-looking wrong one; a healthy or slow upstream
// must be served in full.
func upstreamFaults(args []string) error {
	fs := flag.NewFlagSet("upstream", flag.ExitOnError)
	short := fs.Bool("short", false, "leave out the upstream that never answers and the stalled page, which take minutes of waiting")
	fs.Parse(args)

	u, err := newFaultUpstream()
	if err != nil {
		return err
	}
	defer u.close()
	manifest := fmt.Sprintf(`{"rules":[
 {"type":"docker-v1","domain":"cr.test","repository-name":"acme/app","registry":"http://%[1]s","package-id":"img","mode":"proxy"},
 {"type":"npm-v1","domain":"npm.test","package-name":"*","registry":"http://%[1]s/","package-id":"npm","always-proxy":true},
 {"type":"python-index-v1","domain":"py.test","package-name":"*","index-url":"http://%[1]s/simple/","package-id":"py","cache-ttl":"0s"}]}`, u.addr)
	dir := tempDir("upstream")
	defer removeDir(dir)
	// A short stall timeout, so that stalls end within the run.
	g, err := startGateway(dir, manifest, "--data", "none", "--events", "none", "--stall-timeout", "3s")
	if err != nil {
		return err
	}
	defer g.kill()

	c := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{DisableCompression: true}}
	blobURL := "http://" + g.addr + "/v2/acme/app/blobs/" + u.digest()
	tarURL := "http://" + g.addr + "/pkg/-/pkg-1.0.0.tgz"
	isBlob := func(b []byte) bool { return bytes.Equal(b, u.blob) }
	// A served project page must list the four files of the upstream's.
	pageOK := func(b []byte) bool {
		for i := range 4 {
			if !bytes.Contains(b, fmt.Appendf(nil, "-1.0.%d.tar.gz", i)) {
				return false
			}
		}
		return true
	}
	// Warm the npm packument and one Python page while the upstream is
	// healthy: the faults then hit the artifacts, and the warm page shows
	// whether a stale copy is served.
	u.fault.Store(faultNone)
	if o, d := fetch(c, "http://"+g.addr+"/pkg", "npm.test", func(b []byte) bool { return bytes.Contains(b, []byte("1.0.0")) }); o != gotComplete {
		return fmt.Errorf("packument while healthy: %s (%s)", o, d)
	}
	if o, d := fetch(c, "http://"+g.addr+"/simple/warm/", "py.test", pageOK); o != gotComplete {
		return fmt.Errorf("project page while healthy: %s (%s)", o, d)
	}

	faults := []fault{faultNone, faultSlow, faultDown, fault500, faultHang, faultReset, faultShort, faultChunked, faultStall}
	var wrong, unserved []string
	for _, f := range faults {
		if *short && f == faultHang {
			continue
		}
		u.fault.Store(f)
		if f == faultDown {
			u.down()
		}
		cases := []struct {
			what, url, host string
			check           func([]byte) bool
		}{
			{"docker blob (proxy)", blobURL, "cr.test", isBlob},
			{"npm tarball (always-proxy)", tarURL, "npm.test", isBlob},
			{"python page, cold", "http://" + g.addr + "/simple/cold-" + strings.ReplaceAll(string(f), " ", "-") + "/", "py.test", pageOK},
			{"python page, cached", "http://" + g.addr + "/simple/warm/", "py.test", pageOK},
		}
		for _, tc := range cases {
			if *short && f == faultStall && strings.HasPrefix(tc.what, "python") {
				continue
			}
			t0 := time.Now()
			o, detail := fetch(c, tc.url, tc.host, tc.check)
			log.Printf("%-15s %-27s → %-26s %s (%v)", f, tc.what, o, detail, time.Since(t0).Round(time.Millisecond))
			if o == gotWrong {
				wrong = append(wrong, fmt.Sprintf("%s, %s: %s", f, tc.what, detail))
			}
			if (f == faultNone || f == faultSlow) && o != gotComplete {
				unserved = append(unserved, fmt.Sprintf("%s, %s: %s", f, tc.what, detail))
			}
		}
		if f == faultDown {
			if err := u.up(); err != nil {
				return err
			}
		}
	}
	log.Printf("upstream errors: %.0f; bodies that ended in an error: %.0f",
		g.mustMetric(`portico_upstream_requests_total{backend="`+u.addr+`",dest="backend",result="error"`),
		g.mustMetric(`portico_upstream_body_errors_total`))
	var errs []error
	if len(wrong) > 0 {
		errs = append(errs, fmt.Errorf("complete-looking wrong bodies:\n  %s", strings.Join(wrong, "\n  ")))
	}
	if len(unserved) > 0 {
		errs = append(errs, fmt.Errorf("a healthy upstream's artifact not served:\n  %s", strings.Join(unserved, "\n  ")))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return g.stop()
}

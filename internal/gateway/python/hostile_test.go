package python_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"portico/internal/doccache"
	"portico/internal/gateway/python"
)

// hostileIndex is an upstream index that serves pages built to make a
// parser work hard, and one page that can be made to hang.
type hostileIndex struct {
	srv   *httptest.Server
	pages map[string]string // by project
	mu    sync.Mutex
	hang  chan struct{} // while set, /simple/slow*/ waits for it to close
}

func newHostileIndex(t *testing.T) *hostileIndex {
	h := &hostileIndex{pages: map[string]string{
		// The shapes that made the hand-written scanner quadratic: a
		// flood of tag openings, quotes that never close, anchors that
		// never end, and comments and attributes that go on and on.
		"a-flood":      strings.Repeat("<a ", 200_000),
		"unclosed":     strings.Repeat(`<a href="x.tar.gz `, 40_000),
		"open-anchors": strings.Repeat("<a href=/f/p-1.0.tar.gz>p-1.0.tar.gz <b>", 20_000),
		"comments":     strings.Repeat("<!-- <a href=x> -", 40_000),
		"huge-attr":    `<a href="/f/p-1.0.tar.gz" data-requires-python="` + strings.Repeat("&gt;", 150_000) + `">p-1.0.tar.gz</a>`,
		"long-name":    `<a href="/f/x.tar.gz">Long-Name-` + strings.Repeat("X-", 150_000) + `1.0.tar.gz</a>`,
		"big-version":  `<a href="/f/x.tar.gz">big_version-1` + strings.Repeat("0", 300_000) + `.tar.gz</a>`,
		"oversize":     strings.Repeat("<!-- padding -->\n", 100_000),
		"slow":         `<a href="/f/slow-1.0.tar.gz">slow-1.0.tar.gz</a>`,
	}}
	h.srv = httptest.NewServer(h)
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hostileIndex) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	project := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/simple/"), "/")
	h.mu.Lock()
	hang := h.hang
	h.mu.Unlock()
	if hang != nil && strings.HasPrefix(project, "slow") {
		select {
		case <-hang:
		case <-r.Context().Done():
			return
		}
	}
	page, ok := h.pages[project]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html")
	_, _ = io.WriteString(w, page)
}

func (h *hostileIndex) setHang(c chan struct{}) {
	h.mu.Lock()
	h.hang = c
	h.mu.Unlock()
}

// TestHostileUpstreamPages fetches pages built to make a parser take
// quadratic time: each is answered at once (the scanner Portico had
// before took minutes over some of them, with every later request for
// the project waiting behind it), and a page over the size limit is
// refused with a 502 naming the limit.
func TestHostileUpstreamPages(t *testing.T) {
	h := newHostileIndex(t)
	p := startPorticoWith(t, fmt.Sprintf(`{"rules":[{"type":"python-index-v1","domain":"127.0.0.1","package-name":"*","package-id":"pkg","index-url":%q,"cache-ttl":"1m"}]}`, h.srv.URL+"/simple/"),
		python.Options{Cache: doccache.New(doccache.Options{FetchTimeout: 20 * time.Second}), MaxPage: 1 << 20})
	// The client gives up long before the old parser would have
	// finished, but long after a linear one does.
	client := &http.Client{Timeout: 15 * time.Second}
	for _, project := range []string{"a-flood", "unclosed", "open-anchors", "comments", "huge-attr", "long-name", "big-version"} {
		t.Run(project, func(t *testing.T) {
			resp, err := client.Get(p.srv.URL + "/simple/" + project + "/")
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Portico-Cache") != "fetched" {
				t.Fatalf("status %d, cache %q, want a page built from the upstream's: %.200s", resp.StatusCode, resp.Header.Get("X-Portico-Cache"), body)
			}
			// A second request is served from the cache.
			resp, err = client.Get(p.srv.URL + "/simple/" + project + "/")
			if err != nil {
				t.Fatalf("second request: %v", err)
			}
			resp.Body.Close()
			if resp.Header.Get("X-Portico-Cache") != "fresh" {
				t.Errorf("second request: cache %q, want fresh", resp.Header.Get("X-Portico-Cache"))
			}
		})
	}

	resp, err := client.Get(p.srv.URL + "/simple/oversize/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "exceeds the size limit of 1 MiB") {
		t.Errorf("page over the limit: %d %q, want 502 naming the limit", resp.StatusCode, body)
	}
}

// TestWaitersStopAtTheirDeadline: while one request waits for an
// upstream that does not answer, another request for the same project
// stops waiting at its own deadline, with the cached copy when there is
// one and a 504 saying why when there is none.
func TestWaitersStopAtTheirDeadline(t *testing.T) {
	h := newHostileIndex(t)
	p := startPorticoWith(t, fmt.Sprintf(`{"rules":[{"type":"python-index-v1","domain":"127.0.0.1","package-name":"slow*","package-id":"pkg","index-url":%q,"cache-ttl":"0s"}]}`, h.srv.URL+"/simple/"),
		python.Options{Cache: doccache.New(doccache.Options{FetchTimeout: time.Minute})})
	if resp, _ := fetch(t, "GET", p.srv.URL+"/simple/slow/"); resp.StatusCode != http.StatusOK {
		t.Fatalf("first fetch: %d", resp.StatusCode)
	}
	hang := make(chan struct{})
	h.setHang(hang)
	defer close(hang)

	// The first request starts a revalidation that hangs; it has no
	// deadline of its own.
	go func() {
		resp, err := http.Get(p.srv.URL + "/simple/slow/")
		if err == nil {
			resp.Body.Close()
		}
	}()
	serve := func(project string) *httptest.ResponseRecorder {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		req := httptest.NewRequestWithContext(ctx, "GET", "http://127.0.0.1/simple/"+project+"/", nil)
		w := httptest.NewRecorder()
		p.router.ServeHTTP(w, req)
		return w
	}
	// Let the first request reach the upstream.
	time.Sleep(100 * time.Millisecond)

	w := serve("slow")
	if w.Code != http.StatusOK || w.Header().Get("X-Portico-Cache") != "stale" || !strings.Contains(w.Body.String(), "slow-1.0.tar.gz") {
		t.Errorf("waiting request with a copy cached: %d, cache %q, want the stale page at its deadline", w.Code, w.Header().Get("X-Portico-Cache"))
	}
	w = serve("slow-cold")
	if w.Code != http.StatusGatewayTimeout || !strings.Contains(w.Body.String(), "gave up waiting") {
		t.Errorf("waiting request, nothing cached: %d %q, want 504 saying why", w.Code, w.Body.String())
	}
}

package npm_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"portico/internal/clientip"
	"portico/internal/doccache"
	"portico/internal/gateway/npm"
	"portico/internal/manifest"
	"portico/internal/route"
	"portico/internal/upstream"
)

// TestStalledTarballClient proxies an always-proxy rule's tarball, one
// the registry streams without end, to a client that stops reading: at
// the stall timeout the gateway gives up, the registry sees its client
// go, and the backend's only slot serves the next request.
func TestStalledTarballClient(t *testing.T) {
	released := make(chan struct{}, 4)
	chunk := make([]byte, 64<<10)
	var base string
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/endless":
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"name": "endless", "dist-tags": map[string]string{"latest": "1.0.0"},
				"versions": map[string]any{"1.0.0": map[string]any{"name": "endless", "version": "1.0.0", "dist": map[string]any{"tarball": base + "/endless/-/endless-1.0.0.tgz"}}}})
		case "/endless/-/endless-1.0.0.tgz":
			defer func() { released <- struct{}{} }()
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(reg.Close)
	base = reg.URL

	m, err := manifest.Decode("manifest.json", []byte(`{"rules":[{"type":"npm-v1","domain":"127.0.0.1","package-name":"endless","package-id":"p","registry":"`+reg.URL+`","always-proxy":true}]}`))
	if err != nil {
		t.Fatal(err)
	}
	transport := upstream.NewTransport(upstream.Options{MaxConnsPerBackend: 1, HeaderTimeout: 2 * time.Second})
	t.Cleanup(transport.CloseIdleConnections)
	client := upstream.NewClient(transport)
	cache := doccache.New(doccache.Options{Client: client})
	t.Cleanup(cache.Close)
	opts := npm.Options{Cache: cache, Client: client, Logger: slog.New(slog.DiscardHandler), StallTimeout: 300 * time.Millisecond}
	table, err := route.Compile(m, route.Options{NPM: opts})
	if err != nil {
		t.Fatal(err)
	}
	trusted, _ := clientip.ParseTrusted("")
	gw := httptest.NewServer(route.NewRouter(table, trusted, nil, nil))
	t.Cleanup(gw.Close)

	conn, err := net.Dial("tcp", gw.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4 << 10)
	if _, err := io.WriteString(conn, "GET /endless/-/endless-1.0.0.tgz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-released:
	case <-time.After(15 * time.Second):
		t.Fatal("the registry still streams to a client that stopped reading")
	}
	// The slot is free again: the packument (from the cache) and a
	// second tarball request go through the capped backend.
	resp, err := http.Get(gw.URL + "/endless")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("packument after the stall: %d", resp.StatusCode)
	}
	c2, err := net.Dial("tcp", gw.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	_, _ = io.WriteString(c2, "GET /endless/-/endless-1.0.0.tgz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	buf := make([]byte, 12)
	_ = c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c2, buf); err != nil || string(buf) != "HTTP/1.1 200" {
		t.Errorf("a second tarball request after the stall: %q, %v", buf, err)
	}
}

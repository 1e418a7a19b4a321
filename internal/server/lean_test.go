package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// leanHandler answers as the gateway's plain rules do (redirects, short
// not-founds, small bodies), and streams on /stream, which is not plain.
func leanHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		switch {
		case strings.HasPrefix(r.URL.Path, "/r/"):
			h["Location"] = []string{"https://downloads.example.com" + r.URL.EscapedPath()}
			h["Content-Length"] = []string{"0"}
			w.WriteHeader(http.StatusTemporaryRedirect)
		case r.URL.Path == "/body":
			_, _ = io.WriteString(w, "<html><body>hello "+r.Header.Get("User-Agent")+"</body></html>")
		case r.URL.Path == "/empty":
		case r.URL.Path == "/nocontent":
			w.WriteHeader(http.StatusNoContent)
		case r.URL.Path == "/close":
			h["Connection"] = []string{"close"}
			_, _ = io.WriteString(w, "bye\n")
		case r.URL.Path == "/stream":
			for i := range 3 {
				_, _ = io.WriteString(w, strings.Repeat("x", i+1))
				http.NewResponseController(w).Flush()
			}
		case r.URL.Path == "/odd":
			h["X-Odd"] = []string{" a\r\nb ", "\tc\n", ""}
			h["Bad Key"] = []string{"x"}
			h["lower"] = []string{"v"}
			h["Location"] = []string{r.URL.RawQuery}
			w.WriteHeader(http.StatusFound)
			_, _ = io.WriteString(w, "%PDF-1.4 odd")
		case r.URL.Path == "/panic":
			panic("handler failed")
		default:
			http.NotFound(w, r)
		}
	})
}

func leanPlain(r *http.Request) bool { return r.URL.Path != "/stream" }

// startPair starts the same handler behind net/http's server and behind
// the lean loop.
func startPair(t testing.TB, lim Limits) (std, lean *Server) {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	h := leanHandler()
	start := func(withLean bool) *Server {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := New("test", ln, h, lim, log)
		if withLean {
			s.ServeLean(leanPlain)
		}
		s.Start()
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = s.Shutdown(ctx)
		})
		return s
	}
	return start(false), start(true)
}

var dateField = regexp.MustCompile(`(?m)^Date: [^\r\n]*\r\n`)

// exchange sends raw on a new connection, closes the sending side, and
// returns everything the server wrote until it closed the connection,
// with Date fields blanked.
func exchange(t testing.TB, s *Server, raw string) string {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	_ = c.(*net.TCPConn).CloseWrite()
	out, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		t.Fatalf("reading the answer to %q: %v", raw, err)
	}
	return dateField.ReplaceAllString(string(out), "Date: -\r\n")
}

func isReset(err error) bool { return strings.Contains(err.Error(), "connection reset") }

// leanCases are requests the lean loop must answer exactly as net/http
// does: those it takes on, and those it hands over.
var leanCases = []string{
	"GET /r/v1.2.0/linux.tar.gz HTTP/1.1\r\nHost: bench.test\r\nUser-Agent: wrk\r\n\r\n",
	"HEAD /r/a HTTP/1.1\r\nHost: bench.test\r\n\r\n",
	"GET /nope HTTP/1.1\r\nHost: bench.test\r\n\r\n",
	"HEAD /nope HTTP/1.1\r\nHost: bench.test\r\n\r\n",
	"GET /body HTTP/1.1\r\nHost: a\r\nUser-Agent: pip/24.0\r\n\r\n",
	"HEAD /body HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /empty HTTP/1.1\r\nHost: a\r\n\r\n",
	"HEAD /empty HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /nocontent HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /close HTTP/1.1\r\nHost: a\r\n\r\nGET /r/after-close HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /panic HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /odd?x%0D%0Ay HTTP/1.1\r\nHost: a\r\n\r\n",
	"HEAD /odd HTTP/1.1\r\nHost: a\r\n\r\n",
	// Several on one connection, the last one asking to close.
	"GET /r/1 HTTP/1.1\r\nHost: a\r\n\r\nGET /r/2 HTTP/1.1\r\nHost: a\r\n\r\nGET /r/3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /r/4 HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /r/1 HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n",
	// Plain first, then a request that is not: net/http takes over.
	"GET /r/1 HTTP/1.1\r\nHost: a\r\n\r\nGET /stream HTTP/1.1\r\nHost: a\r\n\r\nGET /r/2 HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /r/1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /r/2 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /r/3 HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /r/1 HTTP/1.1\r\nHost: a\r\n\r\nGET /r/2 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	// Handed over at once.
	"GET /stream HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /r/1 HTTP/1.0\r\nHost: a\r\n\r\n",
	"GET /r/1 HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\nGET /r/2 HTTP/1.0\r\n\r\n",
	"GET /r/1 HTTP/1.1\r\n\r\n",
	"GET /r/1 HTTP/1.1\r\nHost: \r\n\r\n",
	"GET /r/1 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"GET /r/1 HTTP/1.1\r\nHost: a b\r\n\r\n",
	"GET /r/1 HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n",
	"GET /r/1 HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n",
	"GET /r/1 HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\n\r\n",
	"GET /r/1 HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
	"GET /r/1 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"GET /r/1 HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
	"GET /r/1 HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
	"GET http://a/r/1 HTTP/1.1\r\nHost: a\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
	"DELETE /r/1 HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /r/1 HTTP/2.0\r\nHost: a\r\n\r\n",
	"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	"GET /r/1 HTTP/1.1\nHost: a\n\n",
	"GET /r/1\r\n\r\n",
	"GET  /r/1 HTTP/1.1\r\nHost: a\r\n\r\n",
	"\r\nGET /r/1 HTTP/1.1\r\nHost: a\r\n\r\n",
	"garbage\r\n\r\n",
	"GET /r/1 HTTP/1.1\r\nHost: a\r\n",
	"GET /r/1 HTTP/1.1\r\nHo",
	"",
	"GET /r/1 HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("b", 5000) + "\r\n\r\n",
	"GET /r/1 HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("b", 20000) + "\r\n\r\n",
	"GET /r/" + strings.Repeat("p", 4000) + " HTTP/1.1\r\nHost: a\r\n\r\n",
}

var leanLimits = Limits{MaxHeaderBytes: 8 << 10, HeaderTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second}

// TestLeanAsNetHTTP sends each case to net/http's server and to the lean
// loop, and requires the same bytes back (but for the Date).
func TestLeanAsNetHTTP(t *testing.T) {
	std, lean := startPair(t, leanLimits)
	for _, raw := range leanCases {
		want, got := exchange(t, std, raw), exchange(t, lean, raw)
		if got != want {
			t.Errorf("request %q:\nnet/http answered %q\nthe lean loop    %q", short(raw), want, got)
		}
	}
	// The lean loop did take requests on: its redirects carry no trace
	// of net/http, so check one by the handler's view instead.
	var took atomic.Bool
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New("t", ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, isLean := w.(*leanResponse)
		took.Store(isLean)
		w.WriteHeader(http.StatusTemporaryRedirect)
	}), leanLimits, slog.New(slog.DiscardHandler))
	s.ServeLean(func(*http.Request) bool { return true })
	s.Start()
	defer s.Shutdown(context.Background())
	exchange(t, s, "GET /r/1 HTTP/1.1\r\nHost: a\r\n\r\n")
	if !took.Load() {
		t.Error("the lean loop handed a plain redirect to net/http")
	}
}

func short(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

// FuzzLean: whatever bytes a client sends, the lean loop answers as
// net/http does.
func FuzzLean(f *testing.F) {
	for _, c := range leanCases {
		if len(c) < 1000 {
			f.Add(c)
		}
	}
	std, lean := startPair(f, leanLimits)
	f.Fuzz(func(t *testing.T, raw string) {
		want, got := exchange(t, std, raw), exchange(t, lean, raw)
		if got != want {
			t.Errorf("request %q:\nnet/http answered %q\nthe lean loop    %q", short(raw), want, got)
		}
	})
}

// TestLeanTimeouts: a header that does not come in time, and an idle
// connection, are closed as net/http closes them, also when the header
// is handed over.
func TestLeanTimeouts(t *testing.T) {
	lim := Limits{MaxHeaderBytes: 64 << 10, HeaderTimeout: 200 * time.Millisecond, IdleTimeout: 200 * time.Millisecond}
	_, lean := startPair(t, lim)
	for _, tc := range []struct{ name, first, rest string }{
		{"slow header", "GET /r/1 HTTP/1.1\r\nHo", ""},
		{"slow large header", "GET /r/1 HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("b", 5000), ""},
		{"idle after a request", "GET /r/1 HTTP/1.1\r\nHost: a\r\n\r\n", ""},
		{"nothing at all", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", lean.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// The guard: far beyond the timeouts, so that only a server
			// that never closes fails.
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			if _, err := io.WriteString(c, tc.first); err != nil {
				t.Fatal(err)
			}
			out, err := io.ReadAll(c)
			if err != nil && !isReset(err) {
				t.Fatalf("the server kept the connection: %v (read %q)", err, out)
			}
			if strings.Contains(tc.name, "idle") && !bytes.HasPrefix(out, []byte("HTTP/1.1 307")) {
				t.Errorf("answer before the idle close = %q", out)
			}
		})
	}
}

// TestLeanShutdown: Shutdown waits for a request in flight on the lean
// loop, closes idle connections, and the request's answer arrives.
func TestLeanShutdown(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New("t", ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			<-release
		}
		w.WriteHeader(http.StatusTemporaryRedirect)
	}), leanLimits, slog.New(slog.DiscardHandler))
	s.ServeLean(func(*http.Request) bool { return true })
	s.Start()

	idle, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	_ = idle.SetDeadline(time.Now().Add(20 * time.Second))
	_, _ = io.WriteString(idle, "GET /r HTTP/1.1\r\nHost: a\r\n\r\n")
	buf := make([]byte, 4096)
	if n, err := idle.Read(buf); err != nil || !bytes.HasPrefix(buf[:n], []byte("HTTP/1.1 307")) {
		t.Fatalf("first answer %q, %v", buf[:n], err)
	}

	busy, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_ = busy.SetDeadline(time.Now().Add(20 * time.Second))
	_, _ = io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	<-started

	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	// The idle connection is closed...
	if n, err := idle.Read(buf); err == nil {
		t.Fatalf("idle connection still open during shutdown: read %q", buf[:n])
	}
	// ...and Shutdown waits for the request in flight.
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	default:
	}
	close(release)
	out, _ := io.ReadAll(busy)
	if !bytes.HasPrefix(out, []byte("HTTP/1.1 307")) || !bytes.Contains(out, []byte("Connection: close\r\n")) {
		t.Errorf("answer in flight at shutdown = %q, want a 307 with Connection: close", out)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if _, err := net.Dial("tcp", s.Addr().String()); err == nil {
		t.Error("the listener still accepts after Shutdown")
	}
}

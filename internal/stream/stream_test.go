package stream_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"portico/internal/stream"
	"portico/internal/upstream"
)

const stall = 300 * time.Millisecond

// endless is a backend that streams until its client goes away, then
// reports on released.
func endless(t *testing.T, released chan<- struct{}) *httptest.Server {
	t.Helper()
	chunk := make([]byte, 64<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { released <- struct{}{} }()
		if r.URL.Path == "/small" {
			_, _ = io.WriteString(w, "ok")
			return
		}
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// proxyThrough returns a gateway that proxies every request to backend
// through tr with stream.Copy, reporting how each copy ended on done.
func proxyThrough(t *testing.T, tr *upstream.Transport, backend string, done chan<- error) *httptest.Server {
	t.Helper()
	return proxyThroughStall(t, tr, backend, done, stall)
}

func proxyThroughStall(t *testing.T, tr *upstream.Transport, backend string, done chan<- error, stall time.Duration) *httptest.Server {
	t.Helper()
	client := upstream.NewClient(tr)
	policy, err := upstream.NewPolicy(backend)
	if err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(upstream.WithPolicy(r.Context(), policy))
		defer cancel()
		out, _ := http.NewRequestWithContext(ctx, "GET", backend+r.URL.Path, nil)
		resp, err := client.Do(out)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			done <- err
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		_, err = stream.Copy(w, resp.Body, resp.ContentLength, stall, cancel)
		done <- err
	}))
	t.Cleanup(gw.Close)
	return gw
}

// TestStalledClientReleasesUpstream proxies an endless body to a client
// that never reads: the copy gives up at the stall timeout, the backend
// sees its client go, and the backend's only slot is free again for the
// next request.
func TestStalledClientReleasesUpstream(t *testing.T) {
	released := make(chan struct{}, 2)
	backend := endless(t, released)
	tr := upstream.NewTransport(upstream.Options{MaxConnsPerBackend: 1, HeaderTimeout: 2 * time.Second})
	t.Cleanup(tr.CloseIdleConnections)
	done := make(chan error, 2)
	gw := proxyThrough(t, tr, backend.URL, done)

	conn, err := net.Dial("tcp", gw.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4 << 10)
	if _, err := io.WriteString(conn, "GET /blob HTTP/1.1\r\nHost: gw.test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// The client reads nothing from here on.
	start := time.Now()
	select {
	case err := <-done:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("copy ended with %v, want a write timeout", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the copy to a client that stopped reading did not give up")
	}
	select {
	case <-released:
	case <-time.After(5 * time.Second):
		t.Fatal("the backend still streams to the gateway after the copy gave up")
	}
	t.Logf("gave up and released the backend %v after the request", time.Since(start).Round(time.Millisecond))

	// The slot is free: a request through the same transport is served
	// without waiting for the stalled client.
	resp, err := http.Get(gw.URL + "/small")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok" {
		t.Errorf("next request = %d %q, want ok: the stalled transfer kept the backend's slot", resp.StatusCode, b)
	}
}

// TestStalledBackendAbandoned has the backend stop sending mid-body: the
// copy ends at the stall timeout, and the client sees a body shorter
// than its Content-Length rather than a complete one.
func TestStalledBackendAbandoned(t *testing.T) {
	gone := make(chan struct{}, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		_, _ = w.Write(make([]byte, 100))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		gone <- struct{}{}
	}))
	t.Cleanup(backend.Close)
	tr := upstream.NewTransport(upstream.Options{})
	t.Cleanup(tr.CloseIdleConnections)
	done := make(chan error, 1)
	gw := proxyThrough(t, tr, backend.URL, done)
	resp, err := http.Get(gw.URL + "/x")
	if err != nil {
		t.Fatalf("the gateway sent nothing of what it had: %v (copy: %v)", err, <-done)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil || n >= 1000 {
		t.Errorf("client read %d bytes, err %v: want a short body with an error", n, err)
	}
	if err := <-done; err == nil {
		t.Error("the copy of a stalled backend body ended without an error")
	}
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the stalled backend request was not canceled")
	}
}

// TestSlowSteadyClient reads a large body slower than the backend sends
// it, taking longer than the stall timeout in all: a transfer that moves
// is never cut, and arrives intact. (A blocked write sees progress only
// once the kernel has sent half of the socket's buffer, megabytes on
// loopback: the client must read that much per stall timeout.)
func TestSlowSteadyClient(t *testing.T) {
	const size = 8 << 20
	data := make([]byte, size)
	_, _ = rand.Read(data)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		_, _ = w.Write(data)
	}))
	t.Cleanup(backend.Close)
	tr := upstream.NewTransport(upstream.Options{})
	t.Cleanup(tr.CloseIdleConnections)
	done := make(chan error, 1)
	gw := proxyThroughStall(t, tr, backend.URL, done, time.Second)

	conn, err := net.Dial("tcp", gw.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(16 << 10)
	fmt.Fprintf(conn, "GET /blob HTTP/1.1\r\nHost: gw.test\r\n\r\n")
	br := bufio.NewReaderSize(conn, 16<<10)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	start := time.Now()
	buf := make([]byte, 256<<10)
	var got int
	for got < size {
		n, err := io.ReadFull(resp.Body, buf[:min(len(buf), size-got)])
		h.Write(buf[:n])
		got += n
		if err != nil {
			t.Fatalf("after %d bytes: %v (copy: %v)", got, err, <-done)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if took := time.Since(start); took < time.Second {
		t.Logf("the read took %v only; the test did not outlast the stall timeout", took)
	}
	if err := <-done; err != nil {
		t.Errorf("copy to a slow client: %v", err)
	}
	if want := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), want[:]) {
		t.Error("the body arrived changed")
	}
}

// TestUploadStall has a client send part of a request body and stop:
// reading it fails at the stall timeout instead of waiting for ever.
func TestUploadStall(t *testing.T) {
	result := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := stream.Upload(w, r.Body, stall)
		defer body.Close()
		_, err := io.Copy(io.Discard, body)
		result <- err
	}))
	t.Cleanup(srv.Close)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PUT /x HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 1000000\r\n\r\n0123456789")
	select {
	case err := <-result:
		if err == nil {
			t.Error("a body cut short read without error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reading a stalled upload did not give up")
	}
}

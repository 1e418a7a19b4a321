package gateway_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"portico/internal/gateway"
)

const testBodyTimeout = 300 * time.Millisecond

// bodyServer is a real HTTP server whose handler reads up to 256 bytes of
// the body the way rules do, and answers 200 with the count, or 408.
func bodyServer(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := gateway.NewRequest(r, "a.test")
		defer req.Free()
		req.BodyTimeout = testBodyTimeout
		var buf [256]byte
		n, err := req.ReadBodyPrefix(w, buf[:])
		if errors.Is(err, gateway.ErrBodyTimeout) {
			gateway.RequestTimeout(w)
			return
		}
		fmt.Fprint(w, n)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// conn is a raw client connection, so that a test controls exactly when
// each byte of a request goes out.
type conn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) *conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// Only a safety net against a hung test, never an assertion.
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	return &conn{t: t, c: c, r: bufio.NewReader(c)}
}

func (c *conn) write(s string) error {
	_, err := io.WriteString(c.c, s)
	return err
}

// dribble writes s one byte at a time, waiting between bytes, until it is
// written or the server stops reading; it returns when done.
func (c *conn) dribble(s string, every time.Duration) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < len(s); i++ {
			if c.write(s[i:i+1]) != nil {
				return
			}
			time.Sleep(every)
		}
	}()
	return done
}

func (c *conn) response() *http.Response {
	c.t.Helper()
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		c.t.Fatalf("reading the response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Header.Set("X-Body", string(body))
	return resp
}

// closed reports whether the server closed the connection: the next read
// ends, rather than waiting.
func (c *conn) closed() bool {
	_, err := c.r.ReadByte()
	return err == io.EOF || errors.Is(err, net.ErrClosed) || isReset(err)
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

func post(body string) string {
	return "POST /events HTTP/1.1\r\nHost: a.test\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// TestSlowBodyIsCutOff: a client that sends its body a byte at a time is
// answered 408 once the body timeout has passed, and its connection is
// closed; the server meanwhile serves others. Content-Length and chunked
// bodies alike, and a body whose first bytes come fast and the rest slowly.
func TestSlowBodyIsCutOff(t *testing.T) {
	addr := bodyServer(t)
	for _, c := range []struct {
		name       string
		head, slow string
	}{
		{"content-length", "POST /events HTTP/1.1\r\nHost: a.test\r\nContent-Length: 100\r\n\r\n", strings.Repeat("x", 100)},
		{"chunked", "POST /events HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n", strings.Repeat("1\r\nx\r\n", 50) + "0\r\n\r\n"},
		{"slow after the first bytes", "POST /events HTTP/1.1\r\nHost: a.test\r\nContent-Length: 400\r\n\r\n" + strings.Repeat("x", 300), strings.Repeat("x", 100)},
	} {
		t.Run(c.name, func(t *testing.T) {
			slow := dial(t, addr)
			if err := slow.write(c.head); err != nil {
				t.Fatal(err)
			}
			done := slow.dribble(c.slow, 50*time.Millisecond)

			// Others are served while the slow body trickles in.
			other := dial(t, addr)
			if err := other.write(post(`{"a":1}`)); err != nil {
				t.Fatal(err)
			}
			if resp := other.response(); resp.StatusCode != 200 || resp.Header.Get("X-Body") != "7" {
				t.Errorf("another client during the slow body: %d %q", resp.StatusCode, resp.Header.Get("X-Body"))
			}

			resp := slow.response()
			if resp.StatusCode != http.StatusRequestTimeout || !resp.Close {
				t.Errorf("slow body: status %d, close %v, want 408 and the connection closed", resp.StatusCode, resp.Close)
			}
			if !slow.closed() {
				t.Error("the server kept the slow client's connection open")
			}
			<-done
		})
	}
}

// TestBodyDeadlineCleared: normal posts are unaffected. After a body
// arrived in time the deadline no longer applies: the connection idles
// past it and serves another request, and a body longer than what the
// rule reads is skipped for keep-alive.
func TestBodyDeadlineCleared(t *testing.T) {
	addr := bodyServer(t)
	c := dial(t, addr)
	long := strings.Repeat("y", 10000)
	for i, body := range []string{`{"a":1}`, long, `{"b":2}`} {
		if err := c.write(post(body)); err != nil {
			t.Fatal(err)
		}
		resp := c.response()
		want := strconv.Itoa(min(len(body), 256))
		if resp.StatusCode != 200 || resp.Header.Get("X-Body") != want || resp.Close {
			t.Fatalf("request %d on one connection: %d %q close %v, want 200 %q kept alive", i, resp.StatusCode, resp.Header.Get("X-Body"), resp.Close, want)
		}
		// Idle for longer than the body timeout before the next one.
		time.Sleep(2 * testBodyTimeout)
	}
	// A request without a body is not affected at all.
	if err := c.write("GET /x HTTP/1.1\r\nHost: a.test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if resp := c.response(); resp.StatusCode != 200 || resp.Header.Get("X-Body") != "0" {
		t.Errorf("GET after the posts: %d %q", resp.StatusCode, resp.Header.Get("X-Body"))
	}
}

// TestReadBodyWithoutDeadlines: a ResponseWriter that cannot set deadlines
// (a recorder) still reads the body.
func TestReadBodyWithoutDeadlines(t *testing.T) {
	req := gateway.NewRequest(httptest.NewRequest("POST", "/events", strings.NewReader("hello")), "a.test")
	defer req.Free()
	var buf [3]byte
	if n, err := req.ReadBodyPrefix(httptest.NewRecorder(), buf[:]); n != 3 || err != nil || string(buf[:]) != "hel" {
		t.Errorf("ReadBodyPrefix = %d %q %v, want 3 \"hel\" nil", n, buf[:n], err)
	}
}

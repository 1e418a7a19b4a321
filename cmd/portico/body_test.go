package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

const slowBodyManifest = `{"rules":[
 {"type":"telemetry-v1","domain":"t.test","incoming-path":"/events","package-id":"tel"},
 {"type":"scarf-js-v1","domain":"t.test","package-id":"js"},
 {"type":"file-v1","domain":"t.test","incoming-path":"/collect","outgoing-url":null,"package-id":"collect"},
 {"type":"file-v1","domain":"t.test","incoming-path":"/dl/{f}","outgoing-url":"https://files.test/{f}","package-id":"dl"},
 {"type":"docker-v1","domain":"cr.test","package-id":"img","repository-name":"acme/x","upstream-repository":"acme-corp/x","registry":"ghcr.io"}]}`

// TestSlowBodies sends the body of every kind of request whose body a
// rule reads one byte at a time, over real connections to the gateway
// binary: each is answered 408 once --body-timeout has passed and its
// connection closed, while a normal post of the same kind, sent
// meanwhile, is served. Timed-out requests record no event.
func TestSlowBodies(t *testing.T) {
	g := start(t, slowBodyManifest, "--body-timeout", "500ms")
	for _, c := range []struct {
		host, path, body string
		status           int // for the normal post
	}{
		{"t.test", "/events", `{"event":"ok"}`, 200},
		{"t.test", "/package-event/install", `{"package":{"name":"x"}}`, 200},
		{"t.test", "/collect", `{"event":"ok"}`, 200},
		{"t.test", "/dl/tool.tgz", `{"event":"ok"}`, 307},
		{"cr.test", "/v2/token", "service=cr.test&scope=repository%3Aacme%2Fx%3Apull", 200},
	} {
		t.Run(c.path, func(t *testing.T) {
			slow := rawDial(t, g.addr)
			head := "POST " + c.path + " HTTP/1.1\r\nHost: " + c.host + "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\n"
			if _, err := io.WriteString(slow.c, head); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 200 {
					if _, err := slow.c.Write([]byte("x")); err != nil {
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
			}()
			normal := rawDial(t, g.addr)
			req := "POST " + c.path + " HTTP/1.1\r\nHost: " + c.host + "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " + strconv.Itoa(len(c.body)) + "\r\n\r\n" + c.body
			if _, err := io.WriteString(normal.c, req); err != nil {
				t.Fatal(err)
			}
			if resp := normal.response(t); resp.StatusCode != c.status {
				t.Errorf("normal post during a slow one: status %d, want %d", resp.StatusCode, c.status)
			}
			resp := slow.response(t)
			if resp.StatusCode != http.StatusRequestTimeout || !resp.Close {
				t.Errorf("slow body: status %d, close %v, want 408 and the connection closed", resp.StatusCode, resp.Close)
			}
			if _, err := slow.r.ReadByte(); err == nil {
				t.Error("the gateway kept the slow client's connection open")
			}
			wg.Wait()
		})
	}
	// The normal posts are recorded; the cut-off ones are not.
	counts := map[string]int{}
	for _, e := range g.events(t) {
		if id, _ := e["package_id"].(string); id != "" {
			counts[id]++
		}
	}
	for _, id := range []string{"tel", "js", "collect", "dl"} {
		if counts[id] != 1 {
			t.Errorf("%d events for %s, want 1 (the normal post only): %v", counts[id], id, counts)
		}
	}
}

type rawConn struct {
	c net.Conn
	r *bufio.Reader
}

func rawDial(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// A safety net against a hung test, not an assertion.
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	return &rawConn{c: c, r: bufio.NewReader(c)}
}

func (rc *rawConn) response(t *testing.T) *http.Response {
	t.Helper()
	resp, err := http.ReadResponse(rc.r, nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

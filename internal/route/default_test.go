package route_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"portico/internal/clientip"
	"portico/internal/event/eventtest"
	"portico/internal/manifest"
	"portico/internal/route"
	"portico/internal/route/routetest"
)

// defaultServer serves js with a default domain.
func defaultServer(t *testing.T, js string, d route.DefaultDomain) (string, *eventtest.Recorder, *route.Router) {
	t.Helper()
	m, err := manifest.Decode("test.json", []byte(js))
	if err != nil {
		t.Fatal(err)
	}
	tab, err := route.Compile(m, routetest.Options(t))
	if err != nil {
		t.Fatal(err)
	}
	tr, _ := clientip.ParseTrusted("")
	rec := &eventtest.Recorder{}
	rt := route.NewRouter(tab, tr, rec, nil)
	rt.SetDefaultDomain(d, nil)
	srv := httptest.NewServer(rt)
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), rec, rt
}

// rawDo is rawGet that also returns the body.
func rawDo(t *testing.T, addr, target string, headers ...string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	var b strings.Builder
	b.WriteString("GET " + target + " HTTP/1.1\r\n")
	for i := 0; i+1 < len(headers); i += 2 {
		b.WriteString(headers[i] + ": " + headers[i+1] + "\r\n")
	}
	b.WriteString("Connection: close\r\n\r\n")
	if _, err := c.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

func TestDefaultDomain(t *testing.T) {
	addr, rec, rt := defaultServer(t, hostManifest, route.DefaultDomain{Name: "f1.test"})
	tests := []struct {
		host     string
		status   int
		location string
		domain   string // of the event; "" for none
		asked    string
	}{
		{"f1.test", 307, "https://dl.example/f1/a", "f1.test", ""},
		{"evil.example", 307, "https://dl.example/evil/a", "evil.example", ""}, // a configured domain answers for itself
		{"localhost:8081", 307, "https://dl.example/f1/a", "f1.test", "localhost"},
		{"Other.Test.", 307, "https://dl.example/f1/a", "f1.test", "other.test"},
		{"[::1]:8081", 307, "https://dl.example/f1/a", "f1.test", "::1"},
		{"localhost:abc", 400, "", "", ""}, // invalid hosts never fall back
		{"[f1.test]junk.evil", 400, "", "", ""},
	}
	for _, tt := range tests {
		before := len(rec.All())
		resp, _ := rawDo(t, addr, "/x/a", "Host", tt.host)
		if resp.StatusCode != tt.status || resp.Header.Get("Location") != tt.location {
			t.Errorf("Host %q: %d %q, want %d %q", tt.host, resp.StatusCode, resp.Header.Get("Location"), tt.status, tt.location)
		}
		evs := rec.All()[before:]
		if tt.domain == "" {
			if len(evs) != 0 {
				t.Errorf("Host %q: events %+v", tt.host, evs)
			}
			continue
		}
		if len(evs) != 1 || evs[0].Domain != tt.domain || evs[0].RequestedHost != tt.asked {
			t.Errorf("Host %q: events %+v, want domain %q and requested host %q", tt.host, evs, tt.domain, tt.asked)
		}
	}
	if d := rt.DescribeDefault(); !strings.Contains(d, "default domain: f1.test") {
		t.Errorf("DescribeDefault = %q", d)
	}
}

// TestNoDefaultDomain checks the 404 for a host no domain names: it says
// which host was asked for to registry and JSON clients.
func TestNoDefaultDomain(t *testing.T) {
	for _, d := range []route.DefaultDomain{{}, {Sole: true}, {Name: "gone.test"}} {
		addr, rec, rt := defaultServer(t, hostManifest, d) // two domains: Sole finds none
		if desc := rt.DescribeDefault(); desc != "" {
			t.Errorf("%+v: DescribeDefault = %q, want none", d, desc)
		}
		resp, body := rawDo(t, addr, "/v2/hello-world/manifests/latest", "Host", "localhost:8081")
		if resp.StatusCode != 404 || !strings.Contains(body, `"code":"NAME_UNKNOWN"`) || !strings.Contains(body, `host \"localhost\"`) {
			t.Errorf("%+v: registry request: %d %s", d, resp.StatusCode, body)
		}
		resp, body = rawDo(t, addr, "/@acme/rocket", "Host", "localhost", "Accept", "application/vnd.npm.install-v1+json")
		if resp.StatusCode != 404 || !strings.HasPrefix(body, `{"error":"no domain of this gateway matches the host \"localhost\"`) {
			t.Errorf("%+v: JSON request: %d %s", d, resp.StatusCode, body)
		}
		resp, body = rawDo(t, addr, "/x/a", "Host", "localhost")
		if resp.StatusCode != 404 || body != "" {
			t.Errorf("%+v: plain request: %d %q, want an empty 404", d, resp.StatusCode, body)
		}
		resp, body = rawDo(t, addr, "/v2/_catalog", "Host", "localhost")
		if resp.StatusCode != 404 || body != "" {
			t.Errorf("%+v: catalog: %d %q, want an empty 404", d, resp.StatusCode, body)
		}
		if n := len(rec.All()); n != 0 {
			t.Errorf("%+v: %d events for unknown hosts", d, n)
		}
	}
}

// TestSoleDomain: with one domain and Sole, every valid host is served by
// it.
func TestSoleDomain(t *testing.T) {
	js := `{"rules":[{"type":"file-v1","domain":"only.test","incoming-path":"/x/{file}","outgoing-url":"https://dl.example/{file}","package-id":"p"}]}`
	addr, rec, rt := defaultServer(t, js, route.DefaultDomain{Sole: true})
	resp, _ := rawDo(t, addr, "/x/a", "Host", "localhost:8081")
	if resp.StatusCode != 307 || resp.Header.Get("Location") != "https://dl.example/a" {
		t.Errorf("%d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if evs := rec.All(); len(evs) != 1 || evs[0].Domain != "only.test" || evs[0].RequestedHost != "localhost" {
		t.Errorf("events %+v", evs)
	}
	if d := rt.DescribeDefault(); !strings.Contains(d, "only.test") {
		t.Errorf("DescribeDefault = %q", d)
	}
}

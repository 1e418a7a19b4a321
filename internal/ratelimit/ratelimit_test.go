package ratelimit

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"portico/internal/clientip"
)

func TestBucket(t *testing.T) {
	l := New(Config{Rate: 10, Burst: 2})
	a := netip.MustParseAddr("203.0.113.5")
	t0 := time.Unix(1000, 0)
	for i := range 2 {
		if ok, _ := l.Allow(a, t0); !ok {
			t.Fatalf("request %d within the burst refused", i+1)
		}
	}
	ok, wait := l.Allow(a, t0)
	if ok {
		t.Fatal("a request past the burst was allowed")
	}
	if wait <= 0 || wait > 100*time.Millisecond {
		t.Errorf("retry after %v, want (0, 100ms] at 10 requests/s", wait)
	}
	if ok, _ := l.Allow(netip.MustParseAddr("203.0.113.6"), t0); !ok {
		t.Error("another client was refused")
	}
	if ok, _ := l.Allow(a, t0.Add(wait)); !ok {
		t.Errorf("refused again after waiting the %v it was told", wait)
	}
	if ok, _ := l.Allow(a, t0.Add(wait)); ok {
		t.Error("one token back allowed two requests")
	}
	if ok, _ := l.Allow(netip.MustParseAddr("::ffff:203.0.113.5"), t0.Add(wait)); ok {
		t.Error("the IPv4-mapped form of a client got a bucket of its own")
	}
	if got := l.Limited(); got != 3 {
		t.Errorf("Limited() = %d, want 3", got)
	}
}

func TestIPv6PerSlash64(t *testing.T) {
	l := New(Config{Rate: 1, Burst: 1})
	t0 := time.Unix(1000, 0)
	if ok, _ := l.Allow(netip.MustParseAddr("2001:db8:1:2::1"), t0); !ok {
		t.Fatal("first request refused")
	}
	if ok, _ := l.Allow(netip.MustParseAddr("2001:db8:1:2:ffff::9"), t0); ok {
		t.Error("another address of the same /64 got a bucket of its own")
	}
	if ok, _ := l.Allow(netip.MustParseAddr("2001:db8:1:3::1"), t0); !ok {
		t.Error("a client of another /64 was refused")
	}
}

// TestBounded sends requests from far more addresses than the table
// holds: it stays within its bound, and the clients seen last are the
// ones it remembers.
func TestBounded(t *testing.T) {
	const max = 256
	l := New(Config{Rate: 1, Burst: 1, MaxClients: max})
	t0 := time.Unix(1000, 0)
	var last netip.Addr
	for i := range 100000 {
		last = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		l.Allow(last, t0)
		if n := l.Clients(); n > max {
			t.Fatalf("%d clients tracked after %d, want at most %d", n, i+1, max)
		}
	}
	if ok, _ := l.Allow(last, t0); ok {
		t.Error("the last client seen was forgotten: its empty bucket came back full")
	}
}

func TestAllowAllocates(t *testing.T) {
	l := New(Config{Rate: 1e9, Burst: 1 << 30})
	a := netip.MustParseAddr("2001:db8::1")
	now := time.Now()
	l.Allow(a, now)
	if n := testing.AllocsPerRun(1000, func() { l.Allow(a, now) }); n != 0 {
		t.Errorf("Allow of a known client allocates %v times, want 0", n)
	}
}

// TestHandler sends requests through a real server, from clients named
// by a trusted proxy: the one over its rate gets 429 with Retry-After
// (the registry API's error on /v2/), others are served, and it is
// served again once it waited as told.
func TestHandler(t *testing.T) {
	trusted, _ := clientip.ParseTrusted("127.0.0.0/8")
	l := New(Config{Rate: 5, Burst: 2, Trusted: trusted})
	srv := httptest.NewServer(l.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})))
	t.Cleanup(srv.Close)
	send := func(path, client string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("X-Forwarded-For", client)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	read := func(resp *http.Response) string {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(b)
	}
	for i := range 2 {
		if resp := send("/dl/x", "203.0.113.7"); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d, want 200", i+1, resp.StatusCode)
		} else {
			read(resp)
		}
	}
	resp := send("/v2/acme/app/manifests/1", "203.0.113.7")
	body := read(resp)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("over the rate: %d, want 429", resp.StatusCode)
	}
	secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || secs < 1 {
		t.Errorf("Retry-After %q, want a positive number of seconds", resp.Header.Get("Retry-After"))
	}
	if !strings.Contains(body, `"code":"TOOMANYREQUESTS"`) || strings.Contains(body, "203.0.113") {
		t.Errorf("429 on /v2/: %q, want the registry API's TOOMANYREQUESTS, without the address", body)
	}
	if resp := send("/dl/x", "203.0.113.7"); resp.StatusCode != 429 || !strings.HasPrefix(read(resp), "429 Too Many Requests") {
		t.Error("a second request over the rate was not refused with a plain-text 429")
	}
	if resp := send("/dl/x", "203.0.113.8"); resp.StatusCode != 200 {
		t.Errorf("another client behind the same proxy: %d, want 200", resp.StatusCode)
	} else {
		read(resp)
	}
	time.Sleep(250 * time.Millisecond) // one token at 5 requests/s
	if resp := send("/dl/x", "203.0.113.7"); resp.StatusCode != 200 {
		t.Errorf("after waiting: %d, want 200", resp.StatusCode)
	} else {
		read(resp)
	}
	if got := l.Limited(); got != 2 {
		t.Errorf("Limited() = %d, want 2", got)
	}
	cs := l.Collectors()
	if got := testutil.ToFloat64(cs[0]); got != 2 {
		t.Errorf("portico_rate_limited_total = %v, want 2", got)
	}
	if got := testutil.ToFloat64(cs[1]); got != 2 {
		t.Errorf("portico_rate_limit_clients = %v, want 2", got)
	}
}

func ExampleLimiter_Allow() {
	l := New(Config{Rate: 1, Burst: 1})
	t0 := time.Unix(0, 0)
	a := netip.MustParseAddr("192.0.2.1")
	fmt.Println(l.Allow(a, t0))
	fmt.Println(l.Allow(a, t0.Add(400*time.Millisecond)))
	// Output:
	// true 0s
	// false 600ms
}

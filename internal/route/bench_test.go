package route

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"portico/internal/clientip"
	"portico/internal/event"
	"portico/internal/manifest"
	"portico/internal/pipeline"
)

// fileManifest builds rules file-v1 rules spread over domains hosts. With
// sharedSegment every rule of a domain starts with the same path segment,
// which defeats the first-segment index.
func fileManifest(rules, domains int, sharedSegment bool) []byte {
	var b bytes.Buffer
	b.WriteString(`{"rules":[`)
	for i := range rules {
		if i > 0 {
			b.WriteByte(',')
		}
		in := fmt.Sprintf("/pkg%d/{version}/{os}/pkg%d.tar.gz", i, i)
		if sharedSegment {
			in = fmt.Sprintf("/downloads/pkg%d-{version}-{os}.tar.gz", i)
		}
		fmt.Fprintf(&b, `{"type":"file-v1","domain":"d%d.example.com","incoming-path":%q,"outgoing-url":"https://dl.example.com/pkg%d/{version}/pkg%d-{os}.tar.gz","package-id":"p%d"}`,
			i%domains, in, i, i, i)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

func mustTable(tb testing.TB, data []byte) *Table {
	tb.Helper()
	m, err := manifest.Decode("bench.json", data)
	if err != nil {
		tb.Fatal(err)
	}
	t, err := Compile(m, testOptions(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// nopWriter is the cheapest possible ResponseWriter, so that benchmarks
// count the router's allocations, not the recorder's.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

type discardSink struct{}

func (discardSink) Name() string                               { return "discard" }
func (discardSink) Write(context.Context, []event.Event) error { return nil }
func (discardSink) Close() error                               { return nil }

func benchRedirect(b *testing.B, rules, domains int, shared, events bool) {
	t := mustTable(b, fileManifest(rules, domains, shared))
	trusted, _ := clientip.ParseTrusted(clientip.DefaultTrusted)
	var em Emitter
	if events {
		p := pipeline.New(pipeline.Config{Sinks: []pipeline.Sink{discardSink{}}, QueueSize: 1 << 16})
		b.Cleanup(func() { _ = p.Close(context.Background()) })
		em = p
	}
	rt := NewRouter(t, trusted, em, nil)
	// The rule in the middle of the last domain.
	i := rules / 2
	path := fmt.Sprintf("/pkg%d/v1.2.0/linux/pkg%d.tar.gz", i, i)
	if shared {
		path = fmt.Sprintf("/downloads/pkg%d-v1.2.0-linux.tar.gz", i)
	}
	req, _ := http.NewRequest("GET", "http://x"+path, nil)
	req.RequestURI = path
	req.Host = fmt.Sprintf("d%d.example.com", i%domains)
	req.RemoteAddr = "192.0.2.1:1234"
	req.Header.Set("User-Agent", "curl/8.5.0")
	w := &nopWriter{h: make(http.Header)}
	want := fmt.Sprintf("https://dl.example.com/pkg%d/v1.2.0/pkg%d-linux.tar.gz", i, i)
	rt.ServeHTTP(w, req)
	if got := w.h.Get("Location"); got != want {
		b.Fatalf("Location = %q, want %q", got, want)
	}
	b.ReportAllocs()
	cpu0, cpuOK := cpuTime()
	for b.Loop() {
		clear(w.h)
		rt.ServeHTTP(w, req)
	}
	// The machine may be shared: CPU time per request is steadier than
	// the wall-clock time.
	if cpu1, _ := cpuTime(); cpuOK {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
	}
}

func BenchmarkRedirect(b *testing.B) {
	for _, events := range []bool{false, true} {
		name := "events=off"
		if events {
			name = "events=on"
		}
		b.Run(name+"/rules=1", func(b *testing.B) { benchRedirect(b, 1, 1, false, events) })
		b.Run(name+"/rules=1000/domains=1000", func(b *testing.B) { benchRedirect(b, 1000, 1000, false, events) })
		b.Run(name+"/rules=100000/domains=10000", func(b *testing.B) { benchRedirect(b, 100000, 10000, false, events) })
		b.Run(name+"/rules=1000/domains=1", func(b *testing.B) { benchRedirect(b, 1000, 1, false, events) })
		b.Run(name+"/rules=1000/domains=1/shared-segment", func(b *testing.B) { benchRedirect(b, 1000, 1, true, events) })
	}
}

// BenchmarkRedirectStatic serves a rule without variables and a request
// without a query: the Location header value is built once at load time.
func BenchmarkRedirectStatic(b *testing.B) {
	data := []byte(`{"rules":[{"type":"file-v1","domain":"get.example.com","incoming-path":"/install.sh","outgoing-url":"https://raw.example.com/acme/main/install.sh","package-id":"p"}]}`)
	trusted, _ := clientip.ParseTrusted(clientip.DefaultTrusted)
	rt := NewRouter(mustTable(b, data), trusted, nil, nil)
	req, _ := http.NewRequest("GET", "http://get.example.com/install.sh", nil)
	req.RequestURI = "/install.sh"
	req.RemoteAddr = "192.0.2.1:1234"
	w := &nopWriter{h: make(http.Header)}
	rt.ServeHTTP(w, req)
	if got := w.h.Get("Location"); got != "https://raw.example.com/acme/main/install.sh" {
		b.Fatalf("Location = %q", got)
	}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		rt.ServeHTTP(w, req)
	}
}

// BenchmarkLoad measures decoding and compiling a manifest of 100,000
// rules, what a gateway does at startup and on every reload.
func BenchmarkLoad(b *testing.B) {
	data := fileManifest(100000, 10000, false)
	b.ReportMetric(float64(len(data))/1e6, "MB")
	for b.Loop() {
		mustTable(b, data)
	}
}

// TestIndexAgreesWithScan checks that the first-segment index never
// changes which rule answers: every request is answered exactly as trying
// all rules in order would.
func TestIndexAgreesWithScan(t *testing.T) {
	rules := `{"rules":[
	 {"type":"file-v1","domain":"a.test","incoming-path":"/{+path}","outgoing-url":"https://wild.test/{+path}","package-id":"wild"},
	 {"type":"file-v1","domain":"a.test","incoming-path":"/dl/{f}","outgoing-url":"https://dl.test/{f}","package-id":"dl"},
	 {"type":"file-v1","domain":"a.test","incoming-path":"/dl{/f}","outgoing-url":"https://dl2.test/x","package-id":"dl2"},
	 {"type":"file-v1","domain":"a.test","incoming-path":"/dl{?q}","outgoing-url":"https://dlq.test/{q}","package-id":"dlq"},
	 {"type":"file-v1","domain":"a.test","incoming-path":"/d{x}","outgoing-url":"https://dx.test/{x}","package-id":"dx"},
	 {"type":"file-v1","domain":"a.test","incoming-path":"/caf\u00e9/{x}","outgoing-url":"https://cafe.test/{x}","package-id":"cafe"},
	 {"type":"file-v1","domain":"a.test","incoming-path":"/static?k=v","outgoing-url":"https://static.test/","package-id":"static"},
	 {"type":"file-v2","domain":"a.test","incoming-path":"^/re/(?<x>[a-z]+)$","outgoing-url":"https://re.test/{x}","package-id":"re"},
	 {"type":"telemetry-v1","domain":"a.test","incoming-path":"/ev%65nts","package-id":"tel"},
	 {"type":"pixel-v1","domain":"a.test"},
	 {"type":"scarf-js-v1","domain":"a.test"},
	 {"type":"docker-v1","domain":"a.test","package-id":"img","repository-name":"acme/x","registry":"ghcr.io"},
	 {"type":"python-v1","domain":"a.test","package-name":"x","file-name":"x-1.tar.gz","version":"1","backend-url":"https://f.test/x-1.tar.gz","package-id":"py"},
	 {"type":"catch-all-v1","domain":"a.test","package-id":"rest","redirect-target-domain":"rest.test"}
	]}`
	tbl := mustTable(t, []byte(rules))
	d := tbl.Domain("a.test")
	scan := &Domain{Name: d.Name, rules: d.rules}
	for i := range d.rules {
		scan.wild = append(scan.wild, int32(i))
	}
	trusted, _ := clientip.ParseTrusted("")
	paths := []string{"/", "/dl", "/dl/", "/dl/file", "/dl?q=1", "/dlx", "/d", "/dx/y", "/caf%C3%A9/1", "/caf%c3%a9/1",
		"/static?k=v", "/static?x=1&k=v", "/static", "/re/abc", "/re/ABC", "/events", "/ev%65nts", "/a.png?x-pxid=1",
		"/package-event/install", "/v2/", "/v2/acme/x/manifests/1", "/v2/_catalog", "/%76%32/acme/x/manifests/1",
		"/simple/", "/simple/x/", "/simple/x/x-1.tar.gz", "/%73imple/x/", "//double", "/other/path?a=b"}
	for _, method := range []string{"GET", "POST", "HEAD"} {
		for _, p := range paths {
			got := serveOnce(t, &Table{domains: map[string]*Domain{"a.test": d}}, trusted, method, p)
			want := serveOnce(t, &Table{domains: map[string]*Domain{"a.test": scan}}, trusted, method, p)
			if got != want {
				t.Errorf("%s %s: indexed answer %q, scanning answer %q", method, p, got, want)
			}
		}
	}
}

func serveOnce(t *testing.T, tbl *Table, trusted *clientip.Trusted, method, path string) string {
	t.Helper()
	rt := NewRouter(tbl, trusted, nil, nil)
	var body io.Reader
	if method == "POST" {
		body = strings.NewReader(`{"a":1}`)
	}
	req, _ := http.NewRequest(method, "http://a.test/", body)
	req.RequestURI = path
	req.Host = "a.test"
	req.RemoteAddr = "192.0.2.1:1"
	w := &recorder{h: make(http.Header)}
	rt.ServeHTTP(w, req)
	return fmt.Sprintf("%d %s", w.status, w.h.Get("Location"))
}

type recorder struct {
	h      http.Header
	status int
}

func (w *recorder) Header() http.Header { return w.h }
func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = 200
	}
	return len(b), nil
}
func (w *recorder) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}

// TestRedirectAllocs pins the request path's allocations: none for a
// fixed redirect; for a templated one, the Location value, the header
// slice that holds it and the event's copy of the variables.
func TestRedirectAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	data := []byte(`{"rules":[
	 {"type":"file-v1","domain":"a.test","incoming-path":"/install.sh","outgoing-url":"https://raw.test/install.sh","package-id":"p"},
	 {"type":"file-v1","domain":"a.test","incoming-path":"/{version}/{os}/x.tar.gz","outgoing-url":"https://dl.test/{version}/x-{os}.tar.gz","package-id":"p"}]}`)
	trusted, _ := clientip.ParseTrusted(clientip.DefaultTrusted)
	rt := NewRouter(mustTable(t, data), trusted, nil, nil)
	for _, tc := range []struct {
		path string
		max  float64
	}{
		{"/install.sh", 0},
		{"/v1.2.0/linux/x.tar.gz", 3},
	} {
		req, _ := http.NewRequest("GET", "http://a.test"+tc.path, nil)
		req.RequestURI = tc.path
		req.RemoteAddr = "192.0.2.1:1234"
		w := &nopWriter{h: make(http.Header)}
		rt.ServeHTTP(w, req)
		if w.h.Get("Location") == "" {
			t.Fatalf("%s: no redirect", tc.path)
		}
		if n := testing.AllocsPerRun(200, func() { clear(w.h); rt.ServeHTTP(w, req) }); n > tc.max {
			t.Errorf("%s: %v allocations per request, want at most %v", tc.path, n, tc.max)
		}
	}
}

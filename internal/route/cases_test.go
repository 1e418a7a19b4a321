package route_test

// TestCases replays the request/response cases of testdata/cases through a
// real HTTP server running the router. The txtar files are the source of
// truth: there is no -update flag, and a case is changed by editing its
// file.
//
// # Case format
//
// Each testdata/cases/NAME.txtar is a txtar archive (the format of
// golang.org/x/tools/txtar, parsed here by parseTxtar). Its comment says
// what the case shows and where it comes from; then come the sections:
//
//   - manifest.json: the manifest. "{{UPSTREAM}}" stands for the base URL
//     of a fake upstream started for the case, which answers every
//     request with 200, "X-Fake-Upstream: 1" and the body
//     "upstream saw: METHOD REQUEST-URI".
//   - manifest-file: instead of manifest.json, the path of a manifest
//     under testdata/manifests, for large manifests shared by cases.
//   - request: an HTTP/1.1 request head as text ("GET /path?query
//     HTTP/1.1", then header lines), optionally followed by a blank line
//     and the body. The request target is sent byte for byte. Without a
//     Host line the Host is the server's address (127.0.0.1:PORT). The test
//     adds Content-Length when there is a body, and "Connection: close".
//   - response: "HTTP/1.1 STATUS", then the headers that matter, each of
//     which must be present exactly once with this value (names are
//     case-insensitive; "*" means any value; a Content-Type without
//     parameters is compared by media type), then optionally a blank line
//     and the exact body. Without a blank line the body is not checked.
//   - flags (optional): one per line, see knownFlags.
//   - events: one JSON object per line, each matching one emitted event,
//     in any order, with no other events; an empty section means no
//     events. Listed top-level fields must be present and equal
//     ("package_id": null included), except "variables", which is
//     compared as a whole with a missing one counting as {}; nested
//     objects are compared field by field, a missing field counting as
//     null.
//
// A section's data always ends in a newline, which is not part of a body:
// a body "abc" is written "abc" followed by the section's newline, and a
// body ending in a newline is followed by an empty line.
//
// The cases named like the conformance suite's (/work/shared/conformance)
// were ported from it; the portico-* cases are Portico's own.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"portico/internal/clientip"
	"portico/internal/event/eventtest"
	"portico/internal/manifest"
	"portico/internal/route"
	"portico/internal/route/routetest"
	"portico/internal/server"
)

// knownFlags are the words a flags section may hold.
var knownFlags = map[string]string{
	"proxied":         "the request must reach the fake upstream and its response be passed through",
	"not-proxied":     "the fake upstream, if any, sees no request and the response lacks its marker (also the default)",
	"lines-unordered": "the body's lines are compared as a multiset",
	"body-json":       "the body is compared as JSON",
	"png-body":        "the body must decode as a PNG image",
	"revalidate":      "first send the request without If-None-Match, then again with the ETag it got",
	"untrusted-peer":  "the router trusts no proxy, so X-Forwarded-Host is ignored",
}

const upstreamPlaceholder = "{{UPSTREAM}}"

func TestCases(t *testing.T) { testCases(t, serveStd) }

// TestCasesLean runs the cases behind the gateway listener's lean loop,
// which answers the plain requests (Router.Plain) without net/http's
// server and hands the others to it: every case must pass there too.
func TestCasesLean(t *testing.T) { testCases(t, serveLean) }

// A serveFunc serves rt on a new listener until the returned stop, which
// waits for the requests in flight.
type serveFunc func(t *testing.T, rt *route.Router) (addr string, stop func())

func serveStd(t *testing.T, rt *route.Router) (string, func()) {
	srv := httptest.NewServer(rt)
	return srv.Listener.Addr().String(), srv.Close
}

func serveLean(t *testing.T, rt *route.Router) (string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := server.New("gateway", ln, rt, server.Limits{MaxHeaderBytes: 64 << 10, HeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}, slog.New(slog.DiscardHandler))
	s.ServeLean(rt.Plain)
	s.Start()
	var once sync.Once
	return ln.Addr().String(), func() { once.Do(func() { _ = s.Shutdown(context.Background()) }) }
}

func testCases(t *testing.T, serve serveFunc) {
	files, err := filepath.Glob(filepath.Join("testdata", "cases", "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no cases in testdata/cases")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			c, err := parseCase(name, data)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			runCase(t, c, serve)
		})
	}
}

// --- txtar ---------------------------------------------------------------

type txtarFile struct {
	name string
	data []byte
}

// parseTxtar splits data into its comment and files as txtar does: a file
// starts at a line "-- NAME --" and runs to the next such line; every
// file's data ends in a newline.
func parseTxtar(data []byte) (comment []byte, files []txtarFile) {
	var cur *txtarFile
	var buf []byte
	flush := func() {
		if len(buf) > 0 && buf[len(buf)-1] != '\n' {
			buf = append(buf, '\n')
		}
		if cur == nil {
			comment = buf
		} else {
			cur.data = buf
			files = append(files, *cur)
		}
		buf = nil
	}
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i+1], data[i+1:]
		} else {
			data = nil
		}
		if name, ok := txtarMarker(line); ok {
			flush()
			cur = &txtarFile{name: name}
			continue
		}
		buf = append(buf, line...)
	}
	flush()
	return comment, files
}

func txtarMarker(line []byte) (string, bool) {
	s := strings.TrimRight(string(line), "\r\n")
	if !strings.HasPrefix(s, "-- ") || !strings.HasSuffix(s, " --") || len(s) < 6 {
		return "", false
	}
	name := strings.TrimSpace(s[3 : len(s)-3])
	return name, name != ""
}

// --- cases ---------------------------------------------------------------

type headerLine struct{ name, value string }

type rawRequest struct {
	method, target string
	headers        []headerLine
	body           string
	hasBody        bool
}

type testCase struct {
	name     string
	manifest []byte
	request  rawRequest
	status   int
	headers  []headerLine
	body     string
	hasBody  bool
	flags    map[string]bool
	events   []map[string]any
}

func parseCase(name string, data []byte) (*testCase, error) {
	comment, files := parseTxtar(data)
	if len(bytes.TrimSpace(comment)) == 0 {
		return nil, fmt.Errorf("no comment saying what the case shows")
	}
	c := &testCase{name: name, flags: map[string]bool{}}
	seen := map[string]bool{}
	for _, f := range files {
		if seen[f.name] {
			return nil, fmt.Errorf("section %q given twice", f.name)
		}
		seen[f.name] = true
		var err error
		switch f.name {
		case "manifest.json":
			c.manifest = f.data
		case "manifest-file":
			name := strings.TrimSpace(string(f.data))
			if strings.Contains(name, "/") || strings.Contains(name, "..") {
				return nil, fmt.Errorf("manifest-file %q: give a file name in testdata/manifests", name)
			}
			c.manifest, err = os.ReadFile(filepath.Join("testdata", "manifests", name))
			seen["manifest.json"] = true
		case "request":
			c.request, err = parseRequest(string(f.data))
		case "response":
			err = c.parseResponse(string(f.data))
		case "flags":
			for _, w := range strings.Fields(string(f.data)) {
				if _, ok := knownFlags[w]; !ok {
					return nil, fmt.Errorf("unknown flag %q", w)
				}
				c.flags[w] = true
			}
		case "events":
			c.events, err = parseEvents(string(f.data))
		default:
			return nil, fmt.Errorf("unknown section %q", f.name)
		}
		if err != nil {
			return nil, fmt.Errorf("section %s: %w", f.name, err)
		}
	}
	for _, s := range []string{"manifest.json", "request", "response", "events"} {
		if !seen[s] {
			return nil, fmt.Errorf("no %s section", s)
		}
	}
	switch {
	case c.flags["proxied"] && c.flags["not-proxied"]:
		return nil, fmt.Errorf("flags proxied and not-proxied together")
	case c.flags["lines-unordered"] && c.flags["body-json"]:
		return nil, fmt.Errorf("flags lines-unordered and body-json together")
	case (c.flags["lines-unordered"] || c.flags["body-json"]) && !c.hasBody:
		return nil, fmt.Errorf("flags lines-unordered and body-json need a response body")
	}
	return c, nil
}

// splitHead splits a request or response section at its first blank line
// into the head's lines and the body, without the section's final newline.
func splitHead(s string) (lines []string, body string, hasBody bool) {
	head := strings.TrimSuffix(s, "\n")
	if i := strings.Index(s, "\n\n"); i >= 0 {
		head, body, hasBody = s[:i], strings.TrimSuffix(s[i+2:], "\n"), true
	}
	return strings.Split(head, "\n"), body, hasBody
}

func parseHeaderLines(lines []string) ([]headerLine, error) {
	var hs []headerLine
	for _, l := range lines {
		k, v, ok := strings.Cut(l, ":")
		if !ok || k == "" || strings.TrimSpace(k) != k {
			return nil, fmt.Errorf("bad header line %q", l)
		}
		hs = append(hs, headerLine{k, strings.TrimSpace(v)})
	}
	return hs, nil
}

func parseRequest(s string) (rawRequest, error) {
	lines, body, hasBody := splitHead(s)
	parts := strings.Split(lines[0], " ")
	if len(parts) != 3 || parts[0] == "" || !strings.HasPrefix(parts[1], "/") || parts[2] != "HTTP/1.1" {
		return rawRequest{}, fmt.Errorf("request line %q is not \"METHOD /TARGET HTTP/1.1\"", lines[0])
	}
	hs, err := parseHeaderLines(lines[1:])
	if err != nil {
		return rawRequest{}, err
	}
	return rawRequest{method: parts[0], target: parts[1], headers: hs, body: body, hasBody: hasBody}, nil
}

func (c *testCase) parseResponse(s string) error {
	lines, body, hasBody := splitHead(s)
	proto, rest, _ := strings.Cut(lines[0], " ")
	code, _, _ := strings.Cut(rest, " ")
	status, err := strconv.Atoi(code)
	if proto != "HTTP/1.1" || err != nil || status < 100 || status > 999 {
		return fmt.Errorf("status line %q is not \"HTTP/1.1 STATUS\"", lines[0])
	}
	hs, err := parseHeaderLines(lines[1:])
	if err != nil {
		return err
	}
	c.status, c.headers, c.body, c.hasBody = status, hs, body, hasBody
	return nil
}

func parseEvents(s string) ([]map[string]any, error) {
	var evs []map[string]any
	for l := range strings.Lines(s) {
		if strings.TrimSpace(l) == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			return nil, fmt.Errorf("%q: %v", strings.TrimSpace(l), err)
		}
		if _, ok := m["kind"]; !ok {
			return nil, fmt.Errorf("%q: no \"kind\"", strings.TrimSpace(l))
		}
		evs = append(evs, m)
	}
	return evs, nil
}

// --- running a case ------------------------------------------------------

// upstream is the fake backend of {{UPSTREAM}}.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	hits int
}

func startUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.hits++
		u.mu.Unlock()
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		w.Header().Set("X-Fake-Upstream", "1")
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "upstream saw: "+r.Method+" "+r.RequestURI)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hits
}

func runCase(t *testing.T, c *testCase, serve serveFunc) {
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%s: %s", c.name, fmt.Sprintf(format, args...))
	}

	data := c.manifest
	var up *upstream
	if bytes.Contains(data, []byte(upstreamPlaceholder)) {
		up = startUpstream(t)
		data = bytes.ReplaceAll(data, []byte(upstreamPlaceholder), []byte(up.URL))
	}
	m, err := manifest.Decode(c.name+".txtar/manifest.json", data)
	if err != nil {
		t.Fatalf("%s: manifest: %v", c.name, err)
	}
	table, err := route.Compile(m, routetest.Options(t))
	if err != nil {
		t.Fatalf("%s: compile: %v", c.name, err)
	}
	trustedList := clientip.DefaultTrusted
	if c.flags["untrusted-peer"] {
		trustedList = ""
	}
	trusted, err := clientip.ParseTrusted(trustedList)
	if err != nil {
		t.Fatal(err)
	}
	rec := &eventtest.Recorder{}
	addr, stop := serve(t, route.NewRouter(table, trusted, rec, nil))
	defer stop()

	req := c.request
	if c.flags["revalidate"] {
		first := req.without("If-None-Match")
		resp, _, err := sendRaw(addr, first)
		if err != nil {
			t.Fatalf("%s: revalidate: first request: %v", c.name, err)
		}
		etag := resp.Header.Get("ETag")
		if etag == "" {
			t.Fatalf("%s: revalidate: first response (status %d) has no ETag", c.name, resp.StatusCode)
		}
		req = first.with("If-None-Match", etag)
	}
	resp, body, err := sendRaw(addr, req)
	if err != nil {
		t.Fatalf("%s: request: %v", c.name, err)
	}
	// Stopping waits for the handlers to return, so every event has
	// been emitted by then.
	stop()

	if resp.StatusCode != c.status {
		fail("status = %d, want %d", resp.StatusCode, c.status)
	}
	for _, h := range c.headers {
		checkHeader(fail, resp, h)
	}
	if c.hasBody {
		switch {
		case c.flags["lines-unordered"]:
			if missing, extra := lineDiff(c.body, string(body)); len(missing)+len(extra) > 0 {
				fail("body lines differ: missing %q, unexpected %q; body = %q", missing, extra, body)
			}
		case c.flags["body-json"]:
			var want, got any
			if err := json.Unmarshal([]byte(c.body), &want); err != nil {
				t.Fatalf("%s: response body is not JSON: %v", c.name, err)
			}
			if err := json.Unmarshal(body, &got); err != nil {
				fail("body = %q, want JSON %s", body, c.body)
			} else if !reflect.DeepEqual(want, got) {
				fail("body = %s, want JSON %s", body, c.body)
			}
		case string(body) != c.body:
			fail("body = %q, want %q", body, c.body)
		}
	}
	if c.flags["png-body"] {
		if _, err := png.Decode(bytes.NewReader(body)); err != nil {
			fail("body is not a PNG image: %v (body %q)", err, body)
		}
	}

	marked := resp.Header.Get("X-Fake-Upstream") == "1"
	hits := 0
	if up != nil {
		hits = up.count()
	}
	if c.flags["proxied"] {
		switch {
		case up == nil:
			t.Fatalf("%s: flag proxied, but the manifest names no %s", c.name, upstreamPlaceholder)
		case hits == 0:
			fail("not proxied: the upstream saw no request")
		case !marked:
			fail("the upstream was called but its response (X-Fake-Upstream: 1) was not passed through")
		}
	} else if marked || hits > 0 {
		fail("proxied (%d upstream requests, marker %t), want not proxied", hits, marked)
	}

	checkEvents(t, fail, c.events, rec)
}

func checkHeader(fail func(string, ...any), resp *http.Response, h headerLine) {
	vals := resp.Header.Values(h.name)
	if len(vals) == 0 && strings.EqualFold(h.name, "Content-Length") && resp.ContentLength >= 0 {
		vals = []string{strconv.FormatInt(resp.ContentLength, 10)}
	}
	switch {
	case len(vals) == 0:
		fail("header %s missing, want %q", h.name, h.value)
	case len(vals) > 1:
		fail("header %s has %d values %q, want one: %q", h.name, len(vals), vals, h.value)
	case h.value == "*":
	case strings.EqualFold(h.name, "Content-Type") && !strings.Contains(h.value, ";"):
		if mt, _, err := mime.ParseMediaType(vals[0]); err != nil || !strings.EqualFold(mt, h.value) {
			fail("header %s = %q, want media type %q", h.name, vals[0], h.value)
		}
	case vals[0] != h.value:
		fail("header %s = %q, want %q", h.name, vals[0], h.value)
	}
}

// lineDiff returns the lines of want that got lacks and the lines of got
// that want lacks, counting repeated lines.
func lineDiff(want, got string) (missing, extra []string) {
	count := map[string]int{}
	for _, l := range strings.Split(got, "\n") {
		count[l]++
	}
	for _, l := range strings.Split(want, "\n") {
		if count[l] > 0 {
			count[l]--
		} else {
			missing = append(missing, l)
		}
	}
	for l, n := range count {
		for range n {
			extra = append(extra, l)
		}
	}
	slices.Sort(extra)
	return missing, extra
}

// checkEvents encodes the recorded events as the gateway writes them and
// matches the expected ones against them as a multiset.
func checkEvents(t *testing.T, fail func(string, ...any), want []map[string]any, rec *eventtest.Recorder) {
	t.Helper()
	recorded := rec.All()
	var got []map[string]any
	for i := range recorded {
		line := recorded[i].AppendJSON(nil)
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			fail("event %d is not valid JSON: %v: %s", i, err, line)
			continue
		}
		got = append(got, m)
	}
	used := make([]bool, len(got))
	var missing []map[string]any
	for _, w := range want {
		found := false
		for i, g := range got {
			if !used[i] && eventMatches(w, g) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			missing = append(missing, w)
		}
	}
	var extra []map[string]any
	for i, g := range got {
		if !used[i] {
			extra = append(extra, g)
		}
	}
	if len(missing) == 0 && len(extra) == 0 {
		return
	}
	msg := fmt.Sprintf("events: got %d, want %d", len(got), len(want))
	if len(missing) > 0 {
		msg += "; unmatched expected " + mustJSON(missing)
	}
	if len(extra) > 0 {
		msg += "; unexpected " + mustJSON(extra)
	}
	fail("%s", msg)
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// eventMatches reports whether got has every field of want: top-level
// fields must be present, "variables" must be equal as a whole (missing
// counts as {}), nested objects are compared field by field with a missing
// field counting as null.
func eventMatches(want, got map[string]any) bool {
	for k, w := range want {
		g, ok := got[k]
		if k == "variables" {
			if !reflect.DeepEqual(asObject(w), asObject(g)) {
				return false
			}
			continue
		}
		if !ok || !valueMatches(w, g) {
			return false
		}
	}
	return true
}

func asObject(v any) map[string]any {
	if m, ok := v.(map[string]any); ok {
		return m
	}
	return map[string]any{}
}

func valueMatches(w, g any) bool {
	wm, ok := w.(map[string]any)
	if !ok {
		return reflect.DeepEqual(w, g)
	}
	gm, ok := g.(map[string]any)
	if !ok {
		return false
	}
	for k, wv := range wm {
		if !valueMatches(wv, gm[k]) {
			return false
		}
	}
	return true
}

// --- sending raw requests ------------------------------------------------

// without returns r without the header name.
func (r rawRequest) without(name string) rawRequest {
	r.headers = slices.DeleteFunc(slices.Clone(r.headers), func(h headerLine) bool {
		return strings.EqualFold(h.name, name)
	})
	return r
}

// with returns r with the header name set to value, replacing any.
func (r rawRequest) with(name, value string) rawRequest {
	r = r.without(name)
	r.headers = append(r.headers, headerLine{name, value})
	return r
}

// wire returns the request as sent: the target untouched, Host defaulting
// to host, Content-Length for a body, and Connection: close.
func (r rawRequest) wire(host string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", r.method, r.target)
	hasHost, hasLength := false, false
	for _, h := range r.headers {
		switch {
		case strings.EqualFold(h.name, "Host"):
			hasHost = true
		case strings.EqualFold(h.name, "Content-Length"), strings.EqualFold(h.name, "Transfer-Encoding"):
			hasLength = true
		case strings.EqualFold(h.name, "Connection"):
			continue
		}
		fmt.Fprintf(&b, "%s: %s\r\n", h.name, h.value)
	}
	if !hasHost {
		fmt.Fprintf(&b, "Host: %s\r\n", host)
	}
	if r.hasBody && !hasLength {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(r.body))
	}
	b.WriteString("Connection: close\r\n\r\n")
	b.WriteString(r.body)
	return b.Bytes()
}

// sendRaw writes r on a new connection to addr and reads the response.
func sendRaw(addr string, r rawRequest) (*http.Response, []byte, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return nil, nil, err
	}
	if _, err := conn.Write(r.wire(addr)); err != nil {
		return nil, nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: r.method})
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("reading body: %w", err)
	}
	return resp, body, nil
}

// TestSendRawKeepsTarget checks that sendRaw puts the request target on
// the wire byte for byte, so that the cases test the gateway's handling of
// raw paths and not the HTTP client's normalization.
func TestSendRawKeepsTarget(t *testing.T) {
	targets := []string{
		"/v2/library/hello%7Babc%7D/manifests/latest",
		"/search?q=hello%20world",
		"/a%2Fb/./c/../d?",
		"/some-nice-path/very-nice/really+nice?x=a+b&y=%zz",
	}
	seen := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.RequestURI
	}))
	defer srv.Close()
	for _, target := range targets {
		resp, _, err := sendRaw(srv.Listener.Addr().String(), rawRequest{method: "GET", target: target})
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status = %d, want 200", target, resp.StatusCode)
		}
		if got := <-seen; got != target {
			t.Errorf("request target arrived as %q, want %q", got, target)
		}
	}
}

// TestParseTxtar checks the local txtar reader on the format's corner
// cases.
func TestParseTxtar(t *testing.T) {
	comment, files := parseTxtar([]byte("what\n-- a --\nx\n-- b --\n-- c --\nno newline"))
	if string(comment) != "what\n" {
		t.Errorf("comment = %q, want %q", comment, "what\n")
	}
	want := []txtarFile{{"a", []byte("x\n")}, {"b", nil}, {"c", []byte("no newline\n")}}
	if !reflect.DeepEqual(files, want) {
		t.Errorf("files = %q, want %q", files, want)
	}
}

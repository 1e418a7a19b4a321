package file

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"portico/internal/gateway"
	"portico/internal/manifest"
	"portico/internal/query"
)

// TestMerge checks the query merging of Scarf Gateway (spec 5.7).
func TestMerge(t *testing.T) {
	tests := []struct{ target, reqQuery, want string }{
		{"https://datausa.io/api/data", "?drilldowns=Nation&measures=Population", "https://datausa.io/api/data?drilldowns=Nation&measures=Population"},
		{"https://datausa.io/api/data?drilldowns=Nation&measures=Population", "?drilldowns=Nation&measures=Population", "https://datausa.io/api/data?drilldowns=Nation&measures=Population"},
		{"https://x.io/a?q=a+b&k", "?z=1&z=2&k=9&sp=a+b&e=&n", "https://x.io/a?q=a%20b&k&z=1&sp=a%20b&e=&n"},
		{"https://x.io/a", "?a=1;b=2", "https://x.io/a?a=1&b=2"},
		{"https://x.io/a", "?%zz=%41&x=%E2%82%AC", "https://x.io/a?%25zz=A&x=%E2%82%AC"},
		{"https://x.io/a#frag", "?a=1", "https://x.io/a?a=1#frag"},
		{"https://user:secret@x.io/a", "?a=1", "https://user:...@x.io/a?a=1"},
		{"https://user@x.io/a", "?a=1", "https://user@x.io/a?a=1"},
		{"https://[::1]:8443/a", "?a=1", "https://[::1]:8443/a?a=1"},
	}
	for _, tt := range tests {
		u, ok := parseAbsURI(tt.target)
		if !ok {
			t.Errorf("parseAbsURI(%q) rejected a valid URI", tt.target)
			continue
		}
		got, _ := appendMerged(nil, u, query.Parse(tt.reqQuery), nil)
		if string(got) != tt.want {
			t.Errorf("merge(%q, %q) = %q, want %q", tt.target, tt.reqQuery, got, tt.want)
		}
	}
}

// FuzzMerge checks query merging against its definition (spec 5.7): the
// target's head and fragment around the rendering of the target's items
// then the request's, the first of each key only, in that order.
func FuzzMerge(f *testing.F) {
	f.Add("q=a+b&k", "z=1&z=2&k=9&sp=a+b&e=&n")
	f.Add("", "a=1;b=2;a=3")
	f.Add("a=1", strings.Repeat("k&j=1&", 12)+"a=2&z")
	f.Fuzz(func(t *testing.T, targetQuery, reqQuery string) {
		target := "https://x.io/p"
		if targetQuery != "" {
			target += "?" + targetQuery
		}
		target += "#f"
		u, ok := parseAbsURI(target)
		if !ok {
			return // not merged into, by definition
		}
		reqItems := query.Parse(reqQuery)
		got, _ := appendMerged(nil, u, reqItems, nil)
		var want []query.Item
		seen := map[string]bool{}
		for _, it := range append(query.Parse(u.rawQuery), reqItems...) {
			if !seen[it.Key] {
				seen[it.Key] = true
				want = append(want, it)
			}
		}
		if w := "https://x.io/p" + string(query.AppendRender(nil, want)) + "#f"; string(got) != w {
			t.Fatalf("merge(%q, %q) = %q, want %q", target, reqQuery, got, w)
		}
	})
}

func TestParseAbsURIRejects(t *testing.T) {
	for _, s := range []string{"", "/relative", "https://x.io/a b", "https://x.io/%zz", "https://x.io/é", "1https://x", "https://x.io/a?b|c", "https://a@b@c/"} {
		if _, ok := parseAbsURI(s); ok {
			t.Errorf("parseAbsURI(%q) accepted an invalid absolute URI", s)
		}
	}
}

func TestBodyObjects(t *testing.T) {
	tests := []struct {
		body string
		want []string
	}{
		{`{ "x": "Hello" }` + "\n" + `{ "y": "World" }`, []string{`{"x":"Hello"}`, `{"y":"World"}`}},
		{`{"a":1}{"b":2}`, []string{`{"a":1}`, `{"b":2}`}},
		{`[1] "s" {"a":1} 3`, []string{`{"a":1}`}},
		{`{"a":1} {"b":`, []string{`{"a":1}`}},
		{`not json`, nil},
		{strings.Repeat(`{"i":1}`, 20), []string{`{"i":1}`, `{"i":1}`, `{"i":1}`, `{"i":1}`, `{"i":1}`, `{"i":1}`, `{"i":1}`, `{"i":1}`, `{"i":1}`, `{"i":1}`}},
	}
	for _, tt := range tests {
		var got []string
		for _, o := range ParseObjects([]byte(tt.body), maxBodyEvents) {
			got = append(got, string(o))
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("ParseObjects(%q) = %q, want %q", tt.body, got, tt.want)
		}
	}
	// Only the first 256 bytes count: an object that starts after them is lost.
	long := `{"pad":"` + strings.Repeat("x", 240) + `"}` + `{"late":1}`
	req := gateway.NewRequest(httptest.NewRequest("POST", "/", strings.NewReader(long)), "a.test")
	defer req.Free()
	if got, err := readBodyObjects(httptest.NewRecorder(), req); len(got) != 1 || err != nil {
		t.Errorf("readBodyObjects of %d bytes = %d objects, %v, want 1 (the limit is %d bytes)", len(long), len(got), err, maxBodyBytes)
	}
}

// serve runs rule on a request for target and returns the response.
func serve(t testing.TB, rule gateway.Rule, target string) (*httptest.ResponseRecorder, bool) {
	t.Helper()
	r := httptest.NewRequest("GET", "http://a.test/", nil)
	r.RequestURI = target
	req := gateway.NewRequest(r, "a.test")
	defer req.Free()
	w := httptest.NewRecorder()
	_, ok := rule.Serve(w, req)
	return w, ok
}

func mustFileV1(t testing.TB, in, out string) *V1 {
	t.Helper()
	m, err := manifest.Decode("t.json", []byte(`{"rules":[{"type":"file-v1","domain":"a.test","incoming-path":`+quote(in)+`,"outgoing-url":`+quote(out)+`,"package-id":"p"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return NewV1(m.Rules[0].(*manifest.FileV1))
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// openRedirectRules are outgoing URLs that put request-controlled text
// right after the host, where a careless gateway would let it change the
// host.
var openRedirectRules = []struct{ in, out string }{
	{"/{+path}", "https://output.test/{+path}"},
	{"/{+path}", "https://output.test{/path}"},
	{"/{+path}", "https://output.test:8443/{+path}"},
	{"/{a}/{+b}", "https://output.test/{a}/{+b}?x=1"},
	{"/{+path}", "https://output.test{?path}"},
	{"/{+path}", "https://output.test/{path}"},
	{"/{+path}", "https://output.test{#path}"},
	{"/dl{?u}", "https://output.test/go/{+u}"},
}

var openRedirectAttempts = []string{
	"//evil.example", "/@evil.example", "/%2F%2Fevil.example", "/.evil.example", "/\\evil.example",
	"/%5Cevil.example", "/a%0D%0ALocation:%20https://evil.example", "/%2e%2e/%2e%2e/evil", "/:@evil.example",
	"/x?y=1#@evil.example", "/%40evil.example", "/;@evil.example", "/dl?u=//evil.example", "/dl?u=https://evil.example",
	"/https:/%2F%2Fevil.example", "/%E2%80%8Eevil.example", "/a%00b",
}

func TestNoOpenRedirect(t *testing.T) {
	for _, rule := range openRedirectRules {
		v := mustFileV1(t, rule.in, rule.out)
		for _, path := range openRedirectAttempts {
			checkRedirect(t, v, rule.out, path)
		}
	}
}

// FuzzNoOpenRedirect sends arbitrary request targets through rules whose
// outgoing URL has a variable right after the host, and requires every
// redirect to stay on that host, scheme and port, and to be one header
// line.
func FuzzNoOpenRedirect(f *testing.F) {
	for _, p := range openRedirectAttempts {
		f.Add(p)
	}
	var rules []*V1
	for _, r := range openRedirectRules {
		rules = append(rules, mustFileV1(f, r.in, r.out))
	}
	f.Fuzz(func(t *testing.T, target string) {
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		for i, v := range rules {
			checkRedirect(t, v, openRedirectRules[i].out, target)
		}
	})
}

func checkRedirect(t *testing.T, v *V1, out, target string) {
	t.Helper()
	w, ok := serve(t, v, target)
	if !ok {
		return
	}
	loc := w.Header().Get("Location")
	if strings.ContainsAny(loc, "\r\n\x00\\ ") {
		t.Fatalf("%s on %s: Location %q holds a control character, space or backslash", target, out, loc)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("%s on %s: Location %q does not parse: %v", target, out, loc, err)
	}
	want, _ := url.Parse(strings.SplitN(out, "{", 2)[0])
	if u.Scheme != "https" || u.Host != want.Host || u.User != nil {
		t.Fatalf("%s on %s: redirected to %q (scheme %q, host %q), want https://%s", target, out, loc, u.Scheme, u.Host, want.Host)
	}
	if w.Code != http.StatusTemporaryRedirect {
		t.Fatalf("%s on %s: status %d with a Location", target, out, w.Code)
	}
}

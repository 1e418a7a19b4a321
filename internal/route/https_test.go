package route_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"portico/internal/clientip"
	"portico/internal/event"
	"portico/internal/event/eventtest"
	"portico/internal/manifest"
	"portico/internal/route"
	"portico/internal/route/routetest"
)

const httpsManifest = `{"rules":[
	{"type":"file-v1","domain":"get.acme.test","incoming-path":"/dl/{file}","outgoing-url":"https://cdn.test/{file}","package-id":"a"},
	{"type":"file-v1","domain":"Get.Acme.Test","https-only":true,"incoming-path":"/other/{file}","outgoing-url":"https://cdn.test/o/{file}","package-id":"b"},
	{"type":"file-v1","domain":"dl.acme.test","incoming-path":"/dl/{file}","outgoing-url":"https://cdn.test/{file}","package-id":"c"}
]}`

// httpsTable compiles the manifest with a second source that names
// hosts without rules, as the store names its verified domains.
func httpsTable(t *testing.T) *route.Table {
	t.Helper()
	m, err := manifest.Decode("test.json", []byte(httpsManifest))
	if err != nil {
		t.Fatal(err)
	}
	tab, err := route.CompileSets(routetest.Options(t),
		route.RuleSet{Name: "test.json", Rules: m.Rules},
		route.RuleSet{Name: "store", Hosts: []route.Host{{Name: "empty.acme.test", HTTPSOnly: true}, {Name: "quiet.acme.test"}, {Name: "dl.acme.test"}}})
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func TestTableServes(t *testing.T) {
	tab := httpsTable(t)
	for host, want := range map[string][2]bool{ // serves, HTTPS only
		"get.acme.test":   {true, true},
		"dl.acme.test":    {true, false},
		"empty.acme.test": {true, true},
		"quiet.acme.test": {true, false},
		"acme.test":       {false, false},
		"Get.Acme.Test":   {false, false}, // keys are lower-case
	} {
		if got := [2]bool{tab.Serves(host), tab.HTTPSOnly(host)}; got != want {
			t.Errorf("%s: Serves, HTTPSOnly = %v, want %v", host, got, want)
		}
	}
	if tab.Domains() != 2 || tab.Domain("empty.acme.test") != nil {
		t.Errorf("hosts without rules became domains: %d domains", tab.Domains())
	}
}

// TestHTTPSOnly: one rule's https-only makes its whole domain redirect
// plain requests, GET and HEAD with 301 and other methods with 308,
// before anything is served or counted; HTTPS requests, and those a
// trusted proxy says came over HTTPS, are served.
func TestHTTPSOnly(t *testing.T) {
	tab := httpsTable(t)
	tr, _ := clientip.ParseTrusted("127.0.0.0/8")
	rec := &eventtest.Recorder{}
	rt := route.NewRouter(tab, tr, rec, nil)
	plain := httptest.NewServer(rt)
	t.Cleanup(plain.Close)
	secure := httptest.NewTLSServer(rt)
	t.Cleanup(secure.Close)
	noFollow := func(c *http.Client) *http.Client {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		return c
	}
	client, tlsClient := noFollow(&http.Client{}), noFollow(secure.Client())
	do := func(c *http.Client, base, method, host, path string, headers ...string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader("body"))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Location")
	}
	for _, tc := range []struct {
		method, host, path string
		headers            []string
		status             int
		location           string
	}{
		{"GET", "get.acme.test", "/dl/x.tgz?v=1&a=%2F", nil, 301, "https://get.acme.test/dl/x.tgz?v=1&a=%2F"},
		{"HEAD", "GET.acme.test:8081", "/nothing", nil, 301, "https://get.acme.test/nothing"},
		{"POST", "get.acme.test", "/other/x.tgz", nil, 308, "https://get.acme.test/other/x.tgz"},
		{"GET", "empty.acme.test", "//evil.test/x", nil, 301, "https://empty.acme.test//evil.test/x"},
		{"GET", "dl.acme.test", "/dl/x.tgz", nil, 307, "https://cdn.test/x.tgz"},
		{"GET", "quiet.acme.test", "/dl/x.tgz", nil, 404, ""},
		{"GET", "get.acme.test", "/dl/x.tgz", []string{"X-Forwarded-Proto", "https"}, 307, "https://cdn.test/x.tgz"},
	} {
		status, loc := do(client, plain.URL, tc.method, tc.host, tc.path, tc.headers...)
		if status != tc.status || loc != tc.location {
			t.Errorf("plain %s %s%s %v = %d %q, want %d %q", tc.method, tc.host, tc.path, tc.headers, status, loc, tc.status, tc.location)
		}
	}
	if n := len(rec.All()); n != 2 {
		t.Errorf("%d events, want 2: the redirects to HTTPS are not counted", n)
	}
	rec.Reset()
	if status, loc := do(tlsClient, secure.URL, "GET", "get.acme.test", "/dl/x.tgz"); status != 307 || loc != "https://cdn.test/x.tgz" {
		t.Errorf("HTTPS GET = %d %q, want the rule's redirect", status, loc)
	}
	if n := rec.Count(func(e event.Event) bool { return e.Domain == "get.acme.test" }); n != 1 {
		t.Errorf("%d events for the HTTPS download, want 1", n)
	}
	for host, want := range map[string]string{"get.acme.test": "max-age=31536000", "dl.acme.test": ""} {
		req, _ := http.NewRequest("GET", secure.URL+"/dl/x.tgz", nil)
		req.Host = host
		resp, err := tlsClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Strict-Transport-Security"); got != want {
			t.Errorf("HTTPS answer of %s: Strict-Transport-Security %q, want %q", host, got, want)
		}
	}

	rt.SetHTTPSPort(8443)
	if status, loc := do(client, plain.URL, "GET", "get.acme.test", "/dl/x.tgz"); status != 301 || loc != "https://get.acme.test:8443/dl/x.tgz" {
		t.Errorf("with the HTTPS port 8443: %d %q", status, loc)
	}
}

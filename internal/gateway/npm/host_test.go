package npm_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"portico/internal/route"
)

// TestTarballURLHost checks that tarball URLs in served documents lead
// back to the domain by its canonical name, with the port the client
// used, and never carry text from Host or X-Forwarded-Host that is not a
// host name.
func TestTarballURLHost(t *testing.T) {
	f := newNPMFixtures(t)
	js := fmt.Sprintf(`{"rules":[{"type":"npm-v1","domain":"npm.test","package-name":"@acme/*","package-id":"pkg-acme","registry":%q}]}`, f.up.srv.URL+"/")
	trusting := startPorticoTrusting(t, js, "127.0.0.1")
	distrusting := startPorticoTrusting(t, js, "192.0.2.1")
	port := trusting.srv.URL[strings.LastIndexByte(trusting.srv.URL, ':')+1:]
	tests := []struct {
		name    string
		p       *portico
		headers []string
		status  int
		base    string // every tarball URL starts with base + "/"
	}{
		{"plain", trusting, []string{"Host", "npm.test:" + port}, 200, "http://npm.test:" + port},
		{"upper case, trailing dot", trusting, []string{"Host", "NPM.Test.:" + port}, 200, "http://npm.test:" + port},
		{"default port", trusting, []string{"Host", "npm.test:80"}, 200, "http://npm.test"},
		{"leading zeros", trusting, []string{"Host", "npm.test:0080"}, 200, "http://npm.test"},
		{"no port", trusting, []string{"Host", "npm.test"}, 200, "http://npm.test"},
		{"port trick", trusting, []string{"Host", "npm.test:80;evil.example"}, 400, ""},
		{"forwarded", trusting, []string{"Host", "x", "X-Forwarded-Host", "NPM.test", "X-Forwarded-Proto", "https"}, 200, "https://npm.test"},
		{"forwarded port", trusting, []string{"Host", "x", "X-Forwarded-Host", "npm.test:8443", "X-Forwarded-Proto", "HTTPS"}, 200, "https://npm.test:8443"},
		{"forwarded userinfo trick", trusting, []string{"Host", "npm.test", "X-Forwarded-Host", "npm.test:@evil.example"}, 400, ""},
		{"forwarded quote", trusting, []string{"Host", "npm.test", "X-Forwarded-Host", `npm.test"evil`}, 400, ""},
		{"forwarded bad proto", trusting, []string{"Host", "npm.test", "X-Forwarded-Proto", "javascript"}, 400, ""},
		{"untrusted forwarding ignored", distrusting, []string{"Host", "npm.test", "X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https"}, 200, "http://npm.test"},
	}
	for _, tt := range tests {
		for _, doc := range []string{"@acme%2frocket-skates", "@acme/rocket-skates/1.1.0"} {
			resp, body := fetch(t, "GET", tt.p.srv.URL+"/"+doc, tt.headers...)
			if resp.StatusCode != tt.status {
				t.Errorf("%s: %s: status %d, want %d\n%s", tt.name, doc, resp.StatusCode, tt.status, body)
				continue
			}
			if tt.status != 200 {
				continue
			}
			urls := tarballs(t, body)
			if len(urls) == 0 {
				t.Fatalf("%s: %s: no tarball URLs in\n%s", tt.name, doc, body)
			}
			for _, u := range urls {
				pu, err := url.Parse(u)
				if err != nil || pu.Hostname() != "npm.test" || pu.User != nil || !strings.HasPrefix(u, tt.base+"/") {
					t.Errorf("%s: %s: tarball URL %q, want it under %s/", tt.name, doc, u, tt.base)
				}
			}
		}
	}
}

// tarballs returns every dist.tarball of a packument or version document.
func tarballs(t *testing.T, body string) []string {
	t.Helper()
	type version struct {
		Dist struct{ Tarball string } `json:"dist"`
	}
	var doc struct {
		Versions map[string]version `json:"versions"`
		version
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	var out []string
	if doc.Dist.Tarball != "" {
		out = append(out, doc.Dist.Tarball)
	}
	for _, v := range doc.Versions {
		out = append(out, v.Dist.Tarball)
	}
	return out
}

// TestDefaultDomainTarballs: when the default domain answers for a host
// no domain names, its tarball URLs lead back to the host the client
// asked for, so that the client can fetch them, and the download is
// recorded for the domain that answered.
func TestDefaultDomainTarballs(t *testing.T) {
	f := newNPMFixtures(t)
	js := fmt.Sprintf(`{"rules":[{"type":"npm-v1","domain":"npm.test","package-name":"@acme/*","package-id":"pkg-acme","registry":%q}]}`, f.up.srv.URL+"/")
	p := startPorticoTrusting(t, js, "")
	p.router.SetDefaultDomain(route.DefaultDomain{Name: "npm.test"}, nil)
	port := p.srv.URL[strings.LastIndexByte(p.srv.URL, ':')+1:]
	resp, body := fetch(t, "GET", p.srv.URL+"/@acme%2frocket-skates", "Host", "LocalHost:"+port)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d\n%s", resp.StatusCode, body)
	}
	for _, u := range tarballs(t, body) {
		if !strings.HasPrefix(u, "http://localhost:"+port+"/@acme/rocket-skates/-/") {
			t.Errorf("tarball URL %q, want it on the host asked for", u)
		}
	}
	resp, _ = fetch(t, "GET", p.srv.URL+"/@acme/rocket-skates/-/rocket-skates-1.1.0.tgz", "Host", "localhost:"+port)
	if resp.StatusCode != 307 {
		t.Fatalf("tarball: status %d", resp.StatusCode)
	}
	var got []string
	for _, e := range p.rec.all() {
		got = append(got, e.Domain+" "+e.RequestedHost+" "+e.NPM.Object)
	}
	if strings.Join(got, ",") != "npm.test localhost packument,npm.test localhost tarball" {
		t.Errorf("events %q", got)
	}
}

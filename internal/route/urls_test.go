package route_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"portico/internal/clientip"
	"portico/internal/manifest"
	"portico/internal/route"
	"portico/internal/route/routetest"
)

// urlPaths are the requests whose answers hold URLs that lead back to
// the gateway: npm documents (tarball URLs) and the registry API's
// challenge (the token realm). The last answers 404 on either domain.
var urlPaths = []struct {
	path, accept string
}{
	{"/rocket", ""},
	{"/rocket", "application/vnd.npm.install-v1+json"},
	{"/rocket/1.0.0", ""},
	{"/rocket/latest", ""},
	{"/v2/", ""},
	{"/v2/acme/app/manifests/latest", ""},
	{"/nothing/here", "application/json"},
}

// FuzzForwardedURLs sends requests with any Host, X-Forwarded-Host and
// X-Forwarded-Proto, from a trusted proxy or not, through the router, and
// checks what comes back: a 400 when the host or protocol a request
// counts by (clientip, then ParseHost) is not valid, and otherwise no
// URL leading back to the gateway (npm tarball URLs, the docker token
// realm) with any host but the canonical name of the domain that
// matched, nor any scheme or port but those the request counts by. A
// host no domain names gets a 404 that quotes its canonical name.
func FuzzForwardedURLs(f *testing.F) {
	for _, s := range [][3]string{
		{"npm.test", "", ""},
		{"NPM.Test.:8080", "", ""},
		{"x", "npm.test:@evil.example", "https"},
		{"x", "npm.test:80;evil.example", ""},
		{"x", "[npm.test]junk.evil", ""},
		{"gw.test", `gw.test",service="evil`, ""},
		{"gw.test", "evil.example, GW.test:0443", "https, HTTP"},
		{"gw.test", " ", "gopher"},
		{"npm.test:abc", "", ""},
		{"[::1]:80", "", ""},
		{"npm.test", "npm.test\r\nX: y", ""},
		{"evil.example", "", ""},
	} {
		for i := range urlPaths {
			f.Add(s[0], s[1], s[2], true, uint8(i))
		}
		f.Add(s[0], s[1], s[2], false, uint8(0))
	}

	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/rocket" {
			http.NotFound(w, r)
			return
		}
		base := "http://" + r.Host
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"name":"rocket","dist-tags":{"latest":"1.0.0"},"versions":{`+
			`"1.0.0":{"name":"rocket","version":"1.0.0","dist":{"tarball":"%[1]s/rocket/-/rocket-1.0.0.tgz"}},`+
			`"1.1.0":{"name":"rocket","version":"1.1.0","dist":{"tarball":"%[1]s/rocket/-/rocket-1.1.0.tgz"}}}}`, base)
	}))
	f.Cleanup(upstream.Close)
	m, err := manifest.Decode("fuzz.json", []byte(`{"rules":[
 {"type":"npm-v1","domain":"npm.test","package-name":"rocket","package-id":"p-npm","registry":"`+upstream.URL+`/"},
 {"type":"docker-v1","domain":"gw.test","repository-name":"acme/app","upstream-repository":"acme/renamed","registry":"reg.test","package-id":"p-docker"}]}`))
	if err != nil {
		f.Fatal(err)
	}
	tab, err := route.Compile(m, routetest.Options(f))
	if err != nil {
		f.Fatal(err)
	}
	trusted, _ := clientip.ParseTrusted("127.0.0.1")
	rt := route.NewRouter(tab, trusted, nil, nil)

	f.Fuzz(func(t *testing.T, host, xfh, xfp string, fromProxy bool, which uint8) {
		p := urlPaths[int(which)%len(urlPaths)]
		r := httptest.NewRequest(http.MethodGet, p.path, nil)
		r.Host = host
		r.RemoteAddr = "203.0.113.9:4000"
		if fromProxy {
			r.RemoteAddr = "127.0.0.1:4000"
		}
		if xfh != "" {
			r.Header["X-Forwarded-Host"] = []string{xfh}
		}
		if xfp != "" {
			r.Header["X-Forwarded-Proto"] = []string{xfp}
		}
		if p.accept != "" {
			r.Header.Set("Accept", p.accept)
		}
		w := httptest.NewRecorder()
		rt.ServeHTTP(w, r)
		resp := w.Result()
		body := w.Body.String()

		// What the request counts by, as the router must read it.
		text, https, protoOK := trusted.Forwarded(r)
		key, port, hostOK := route.ParseHost(text)
		if !protoOK || !hostOK {
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || resp.Header.Get("Www-Authenticate") != "" {
				t.Fatalf("host %q (from %q, %q, %q): status %d, want a plain 400", text, host, xfh, xfp, resp.StatusCode)
			}
			return
		}
		if resp.StatusCode == http.StatusBadRequest {
			t.Fatalf("valid host %q, protocol https=%v: 400 %s", text, https, body)
		}
		if key != "npm.test" && key != "gw.test" {
			if resp.StatusCode != http.StatusNotFound {
				t.Fatalf("host %q names no domain: status %d", key, resp.StatusCode)
			}
			if body != "" && !strings.Contains(body, `matches the host `+strings.Trim(strconv.Quote(strconv.Quote(key)), `"`)) {
				t.Fatalf("404 for host %q does not quote its canonical name: %s", key, body)
			}
			return
		}
		origin := "http://"
		if https {
			origin = "https://"
		}
		origin += key
		if port != 0 && !(https && port == 443) && !(!https && port == 80) {
			origin += ":" + strconv.Itoa(int(port))
		}
		var written []string
		if ch := resp.Header.Get("Www-Authenticate"); ch != "" {
			want := `Bearer realm="` + origin + `/v2/token",service="` + key + `"`
			if !strings.HasPrefix(ch, want) {
				t.Fatalf("challenge %q, want it to start with %q", ch, want)
			}
			written = append(written, origin+"/v2/token")
		}
		if resp.StatusCode == http.StatusOK && key == "npm.test" {
			written = append(written, tarballURLs(t, body)...)
			if len(written) == 0 {
				t.Fatalf("no tarball URL in %s", body)
			}
		}
		for _, s := range written {
			u, err := url.Parse(s)
			if err != nil || u.User != nil || u.Hostname() != key || !strings.HasPrefix(s, origin+"/") {
				t.Fatalf("the gateway wrote %q for host %q (from %q, %q, %q), want a URL under %s/", s, text, host, xfh, xfp, origin)
			}
		}
	})
}

// tarballURLs returns every dist.tarball of an npm packument or version
// document.
func tarballURLs(t *testing.T, body string) []string {
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

package docker_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/distribution/reference"

	pgateway "portico/internal/gateway"
	"portico/internal/route"
)

// upstreamLog is a registry stand-in that records the raw paths it is
// asked for and answers each with an empty manifest.
type upstreamLog struct {
	mu    sync.Mutex
	paths []string
}

func (u *upstreamLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.paths = append(u.paths, r.URL.EscapedPath())
	u.mu.Unlock()
	w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	w.Write([]byte(`{}`))
}

func (u *upstreamLog) take() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	p := u.paths
	u.paths = nil
	return p
}

// TestNamesOutsidePattern sends names that try to leave a docker-v2
// rule's prefix: an encoded slash, dot segments, upper case, over-long
// names. Each is refused with NAME_INVALID before any rule sees it, and
// nothing reaches the registry; valid names still go through.
func TestNamesOutsidePattern(t *testing.T) {
	up := &upstreamLog{}
	reg := httptest.NewServer(up)
	t.Cleanup(reg.Close)
	js := manifestOf(`{"type":"docker-v2","domain":"gw.test","pattern":"acme/*","registry":"` + reg.URL + `","rule-id":"r-acme","mode":"proxy"}`)
	opts := newOptions(t)
	rec := &recorder{}
	gw := httptest.NewServer(route.NewRouter(compile(t, js, opts), testTrusted, rec, nil))
	t.Cleanup(gw.Close)

	long := "acme/" + strings.Repeat("a", 250) // 255 characters
	tests := []struct {
		path   string
		status int
	}{
		{"/v2/acme/rocket/manifests/latest", 200},
		{"/v2/acme/a__b.c-d/manifests/latest", 200},
		{"/v2/" + long + "/manifests/latest", 200},
		{"/v2/" + long + "a/manifests/latest", 400},
		{"/v2/acme/..%2Fother%2Fsecret/manifests/x", 400},
		{"/v2/acme/..%2fother%2fsecret/manifests/x", 400},
		{"/v2/acme/rocket%2Fx/manifests/latest", 400},
		{"/v2/acme/%2e%2e/manifests/x", 400},
		{"/v2/acme/%2E%2e/manifests/x", 400},
		{"/v2/acme/../manifests/x", 400},
		{"/v2/acme/./manifests/x", 400},
		{"/v2/acme/..", 404}, // no keyword: not a registry request
		{"/v2/acme/Rocket/manifests/latest", 400},
		{"/v2/ACME/rocket/manifests/latest", 400},
		{"/v2/acme/-rocket/manifests/latest", 400},
		{"/v2/acme/rocket-/manifests/latest", 400},
		{"/v2/acme/r%6fcket/manifests/latest", 400},
		{"/v2/acme//manifests/latest", 400},
		{"/v2/acme/rocket/manifests/..%2F..%2Fother%2Fsecret%2Fmanifests%2Fx", 400},
		{"/v2/acme/rocket/manifests/%2e%2e", 400},
		{"/v2/acme/rocket/manifests/latest/../../../other/secret/manifests/x", 400},
		{"/v2/acme/rocket/blobs/uploads/..%5Cx", 400},
		{"/v2/other/secret/manifests/x", 404},
		{"/v2/manifests/latest", 404},
	}
	for _, tt := range tests {
		u, err := url.Parse(gw.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		req := &http.Request{Method: "GET", URL: u, Host: "gw.test", Header: http.Header{"User-Agent": {"docker/27.3.1"}}}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s: %d %s, want %d", tt.path, resp.StatusCode, body, tt.status)
		}
		if tt.status == 400 && !strings.Contains(string(body), `"NAME_INVALID"`) {
			t.Errorf("%s: body %s, want NAME_INVALID", tt.path, body)
		}
		seen := up.take()
		if tt.status != 200 && len(seen) > 0 {
			t.Errorf("%s: the registry was asked for %q", tt.path, seen)
		}
		for _, p := range seen {
			if !strings.HasPrefix(p, "/v2/acme/") || strings.Contains(p, "%") || strings.Contains(p, "/../") {
				t.Errorf("%s: the registry was asked for %q", tt.path, p)
			}
		}
	}
	for _, e := range rec.all() {
		if !strings.HasPrefix(e.Docker.Image, "acme/") {
			t.Errorf("event for image %q", e.Docker.Image)
		}
	}
}

// FuzzImageName checks the names a docker-v2 rule accepts: every
// request the rule takes names an image of the distribution reference
// grammar under the pattern's prefix, and the path sent upstream has no
// dot segment or escape that could make it name another.
func FuzzImageName(f *testing.F) {
	for _, s := range []string{"acme/rocket", "acme/..%2Fother%2Fsecret", "acme/%2e%2E", "acme/Rocket", "acme/a__b", "acme/rocket%2fx", "acme/../x", "acme/./x"} {
		f.Add(s, "latest")
	}
	f.Add("acme/rocket", "..%2F..%2Fx")
	opts := newOptions(f)
	js := manifestOf(`{"type":"docker-v2","domain":"gw.test","pattern":"acme/*","registry":"https://reg.example","rule-id":"r-acme"}`)
	rt := route.NewRouter(compile(f, js, opts), testTrusted, &recorder{}, nil)
	f.Fuzz(func(t *testing.T, name, ref string) {
		path := "/v2/" + name + "/manifests/" + ref
		if strings.ContainsAny(path, "?# \x00\r\n") || !utf8Valid(path) {
			return
		}
		req := httptest.NewRequest("GET", "http://gw.test/", nil)
		req.RequestURI = path
		req.Header.Set("User-Agent", "docker/27.3.1")
		w := httptest.NewRecorder()
		rt.ServeHTTP(w, req)
		if w.Code != http.StatusTemporaryRedirect {
			return
		}
		loc := w.Header().Get("Location")
		rest, ok := strings.CutPrefix(loc, "https://reg.example/v2/acme/")
		if !ok {
			t.Fatalf("%s: redirected to %q, outside the pattern's prefix", path, loc)
		}
		image := "acme/" + rest[:strings.Index(rest, "/manifests/")]
		if _, err := reference.ParseNamed("reg.example/" + image); err != nil {
			t.Fatalf("%s: image %q is not a reference name: %v", path, image, err)
		}
		for _, seg := range strings.Split(rest, "/") {
			d := pgateway.DecodeSegment(seg)
			if d == "." || d == ".." || strings.ContainsAny(d, `/\\`) {
				t.Fatalf("%s: upstream path %q has segment %q", path, loc, seg)
			}
		}
	})
}

func utf8Valid(s string) bool { return utf8.ValidString(s) }

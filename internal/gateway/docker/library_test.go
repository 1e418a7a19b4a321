package docker_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"portico/internal/manifest"
)

// TestLibraryAndReferrers: single names get library/ on Docker Hub only,
// OCI referrers are routed, the query is kept, and the catalog is an OCI
// error.
func TestLibraryAndReferrers(t *testing.T) {
	opts := newOptions(t)
	tab := compile(t, manifestOf(
		v1Rule("library/hello-world", "registry.hub.docker.com", ""),
		strings.Replace(v1Rule("library/controller", "ghcr.io", ""), "gw.test", "gh.test", 1),
		`{"type":"docker-v2","domain":"gw2.test","pattern":"*","registry":"docker.io","rule-id":"r1"}`), opts)
	rt := routeRouter(tab)
	for _, tc := range []struct{ host, path, want string }{
		{"gw.test", "/v2/hello-world/manifests/latest", "https://registry-1.docker.io/v2/library/hello-world/manifests/latest"},
		{"gw.test", "/v2/library/hello-world/manifests/latest", "https://registry-1.docker.io/v2/library/hello-world/manifests/latest"},
		{"gw.test", "/v2/library/hello-world/referrers/sha256:abc", "https://registry-1.docker.io/v2/library/hello-world/referrers/sha256:abc"},
		{"gw.test", "/v2/library/hello-world/tags/list?n=10&last=b", "https://registry-1.docker.io/v2/library/hello-world/tags/list?n=10&last=b"},
		{"gw2.test", "/v2/nginx/manifests/1", "https://docker.io/v2/library/nginx/manifests/1"},
		{"gh.test", "/v2/controller/manifests/latest", ""}, // not Docker Hub: no library/
	} {
		req := httptest.NewRequest(http.MethodGet, "http://"+tc.host+tc.path, nil)
		req.RequestURI = tc.path
		req.Header.Set("User-Agent", "docker/27.3.1")
		w := httptest.NewRecorder()
		rt.ServeHTTP(w, req)
		if tc.want == "" {
			if w.Code != 404 {
				t.Errorf("%s%s: %d, want 404", tc.host, tc.path, w.Code)
			}
			continue
		}
		if w.Code != 307 || w.Header().Get("Location") != tc.want {
			t.Errorf("%s%s: %d %q, want 307 %q", tc.host, tc.path, w.Code, w.Header().Get("Location"), tc.want)
		}
	}
	req := httptest.NewRequest(http.MethodGet, "http://gw.test/v2/_catalog", nil)
	w := httptest.NewRecorder()
	rt.ServeHTTP(w, req)
	if w.Code != 404 || ociError(t, w.Body) != "UNSUPPORTED" {
		t.Errorf("catalog: %d", w.Code)
	}
}

func TestManifestFields(t *testing.T) {
	for _, tc := range []struct{ extra, err string }{
		{`"mode":"fast"`, "unknown mode"},
		{`"mode":"redirect","always-proxy":true`, "contradicts"},
		{`"upstream-repository":"Acme/RS"`, "repository path component"},
		{`"upstream-repository":"a//b"`, "empty path segment"},
		{`"credentials-env":"A","credentials-file":"/x"`, "not both"},
		{`"credentials-env":"1BAD"`, "environment variable"},
	} {
		_, err := manifest.Decode("m.json", []byte(manifestOf(v1Rule("a/b", "ghcr.io", tc.extra))))
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: error %v, want %q", tc.extra, err, tc.err)
		}
	}
	m, err := manifest.Decode("m.json", []byte(manifestOf(v1Rule("a/b", "ghcr.io", `"mode":"proxy","push":true,"upstream-repository":"org/x","credentials-env":"GHCR"`))))
	if err != nil {
		t.Fatal(err)
	}
	r := m.Rules[0].(*manifest.DockerV1)
	if r.Mode != "proxy" || !r.Push || r.UpstreamRepository != "org/x" || r.CredentialsEnv != "GHCR" {
		t.Errorf("decoded %+v", r)
	}
}

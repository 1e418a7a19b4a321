package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAllowPrivateUpstreams runs the binary with and without
// --allow-private-upstreams, with an npm rule whose tarballs are on a
// listed host and a docker rule whose registry names a token service,
// both on loopback ports other than the rules' backends. A rule's own
// backend is reached either way; the other hosts only with the flag,
// for both protocols' transports; a metadata address stays refused.
func TestAllowPrivateUpstreams(t *testing.T) {
	tgz := []byte("\x1f\x8b the tarball")
	tarballs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(tgz)
	}))
	t.Cleanup(tarballs.Close)
	var npmRegistry *httptest.Server
	npmRegistry = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/pkg" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"name": "pkg", "dist-tags": map[string]string{"latest": "1.0.0"},
			"versions": map[string]any{
				"1.0.0": map[string]any{"name": "pkg", "version": "1.0.0", "dist": map[string]string{"tarball": tarballs.URL + "/pkg-1.0.0.tgz"}},
				"1.0.1": map[string]any{"name": "pkg", "version": "1.0.1", "dist": map[string]string{"tarball": "http://169.254.169.254/pkg-1.0.1.tgz"}},
			},
		})
	}))
	t.Cleanup(npmRegistry.Close)

	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"token":"upstream-token","expires_in":300}`)
	}))
	t.Cleanup(tokens.Close)
	const manifestBody = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}`
	dockerRegistry := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer upstream-token" {
			w.Header().Set("Www-Authenticate", fmt.Sprintf(`Bearer realm="%s/token",service="registry"`, tokens.URL))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.URL.Path != "/v2/acme/renamed/manifests/1" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		_, _ = io.WriteString(w, manifestBody)
	}))
	t.Cleanup(dockerRegistry.Close)

	manifest := fmt.Sprintf(`{"rules":[
 {"type":"npm-v1","domain":"npm.test","package-name":"pkg","package-id":"p-npm","registry":%q,"always-proxy":true,"tarball-hosts":[%q,"http://169.254.169.254"]},
 {"type":"docker-v1","domain":"cr.test","repository-name":"acme/app","upstream-repository":"acme/renamed","registry":%q,"package-id":"p-docker"}]}`,
		npmRegistry.URL+"/", tarballs.URL, dockerRegistry.URL)

	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprintf("allowed=%v", allow), func(t *testing.T) {
			var args []string
			if allow {
				args = append(args, "--allow-private-upstreams")
			}
			g := start(t, manifest, args...)

			// The npm rule's backend is on loopback: its document is
			// fetched either way.
			if resp, body := fetchBody(t, "http://"+g.addr+"/pkg", "npm.test"); resp.StatusCode != 200 || !strings.Contains(body, "pkg-1.0.0.tgz") {
				t.Errorf("packument: %d %s", resp.StatusCode, body)
			}
			resp, body := fetchBody(t, "http://"+g.addr+"/pkg/-/pkg-1.0.0.tgz", "npm.test")
			switch {
			case allow && (resp.StatusCode != 200 || body != string(tgz)):
				t.Errorf("tarball from a listed host on loopback: %d %q, want the tarball", resp.StatusCode, body)
			case !allow && (resp.StatusCode != 502 || !strings.Contains(body, tarballs.Listener.Addr().String()) || !strings.Contains(body, "--allow-private-upstreams")):
				t.Errorf("tarball from a listed host on loopback: %d %s, want a 502 naming the host and the flag", resp.StatusCode, body)
			}
			if resp, body := fetchBody(t, "http://"+g.addr+"/pkg/-/pkg-1.0.1.tgz", "npm.test"); resp.StatusCode != 502 || !strings.Contains(body, "cloud metadata") {
				t.Errorf("tarball on a metadata address: %d %s, want a 502", resp.StatusCode, body)
			}

			// Docker: Portico's token, then the manifest, which needs
			// an upstream token from the service on another port.
			resp, body = fetchBody(t, "http://"+g.addr+"/v2/token?scope=repository:acme/app:pull&service=cr.test", "cr.test")
			var tok struct{ Token string }
			if err := json.Unmarshal([]byte(body), &tok); resp.StatusCode != 200 || err != nil || tok.Token == "" {
				t.Fatalf("Portico token: %d %s", resp.StatusCode, body)
			}
			resp, body = fetchBody(t, "http://"+g.addr+"/v2/acme/app/manifests/1", "cr.test", "Authorization", "Bearer "+tok.Token,
				"Accept", "application/vnd.oci.image.manifest.v1+json")
			switch {
			case allow && (resp.StatusCode != 200 || body != manifestBody):
				t.Errorf("manifest through a token service on loopback: %d %s, want the manifest", resp.StatusCode, body)
			case !allow && (resp.StatusCode != 502 || !strings.Contains(body, tokens.Listener.Addr().String()) || !strings.Contains(body, "loopback")):
				t.Errorf("manifest through a token service on loopback: %d %s, want a 502 naming the token service", resp.StatusCode, body)
			}
		})
	}
}

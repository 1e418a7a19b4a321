package app

import (
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"portico/internal/clientip"
	"portico/internal/manifest"
	"portico/internal/route"
)

// TestRuleOptions: the options serve builds are complete for every rule
// kind, python and npm share one document cache, and the docker access
// policy is the public one: on a domain where Portico runs the auth
// handshake, an anonymous client gets a token that pulls.
func TestRuleOptions(t *testing.T) {
	opts, err := RuleOptions(testConfig(t), newTestLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(opts.NPM.Cache.Close)
	if err := opts.Validate(); err != nil {
		t.Errorf("RuleOptions are incomplete: %v", err)
	}
	if opts.NPM.Cache != opts.Python.Cache {
		t.Error("python and npm rules have separate document caches")
	}

	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	host := strings.TrimPrefix(reg.URL, "http://")
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host+"/acme-corp/app:1.0", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	// A renamed image: Portico runs the handshake.
	m, err := manifest.Decode("m.json", []byte(`{"rules":[{"type":"docker-v1","domain":"cr.test","package-id":"p","repository-name":"acme/app","upstream-repository":"acme-corp/app","registry":"`+reg.URL+`"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	tab, err := route.Compile(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	trusted, _ := clientip.ParseTrusted("")
	gw := httptest.NewServer(route.NewRouter(tab, trusted, nil, nil))
	t.Cleanup(gw.Close)
	do := func(path, auth string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, gw.URL+path, nil)
		req.Host = "cr.test"
		req.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json,application/vnd.oci.image.manifest.v1+json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	if resp := do("/v2/acme/app/manifests/1.0", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("manifest without a token: %d, want 401", resp.StatusCode)
	}
	resp := do("/v2/token?service=cr.test&scope=repository:acme/app:pull", "")
	var body struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.Token == "" {
		t.Fatalf("anonymous token: %d %v", resp.StatusCode, err)
	}
	want, _ := img.Digest()
	if resp := do("/v2/acme/app/manifests/1.0", "Bearer "+body.Token); resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Content-Digest") != want.String() {
		t.Errorf("manifest with the anonymous token: %d %q, want 200 with %s", resp.StatusCode, resp.Header.Get("Docker-Content-Digest"), want)
	}
}

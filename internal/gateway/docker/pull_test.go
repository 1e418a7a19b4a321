package docker_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"portico/internal/event"
)

// pullImage pulls ref with go-containerregistry's remote package, reads
// every layer and checks every digest, and returns the image digest.
func pullImage(t testing.TB, ref string, opts ...remote.Option) (v1.Hash, error) {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return v1.Hash{}, err
	}
	img, err := remote.Image(r, opts...)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := validate.Image(img); err != nil {
		return v1.Hash{}, err
	}
	return img.Digest()
}

func digestOf(t testing.TB, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestPullModes pulls real images through Portico from a registry with
// bearer-token auth and from one without, in redirect and proxy modes,
// and checks every digest.
func TestPullModes(t *testing.T) {
	open := newRegistry(t, regOpts{host: "reg2.test"})
	authed := newRegistry(t, regOpts{auth: true})
	img := randomImage(t, 4096, 3)
	open.pushImage(t, "acme/app", "1.0", img)
	authed.pushImage(t, "acme/app", "1.0", img)
	want := digestOf(t, img)

	for _, tc := range []struct {
		name, registry, mode string
		// wantErr: the client cannot pull (a redirect across hosts
		// loses its token).
		wantErr bool
	}{
		{"open/redirect", "http://" + open.Addr, "redirect", false},
		{"open/proxy", "http://" + open.Addr, "proxy", false},
		{"open/auto", "http://" + open.Addr, "auto", false},
		{"authed/proxy", "http://" + authed.Addr, "proxy", false},
		{"authed/auto", "http://" + authed.Addr, "auto", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startGateway(t, manifestOf(v1Rule("acme/app", tc.registry, `"mode":"`+tc.mode+`"`)))
			got, err := pullImage(t, g.Addr+"/acme/app:1.0")
			if err != nil {
				t.Fatalf("pull: %v", err)
			}
			if got != want {
				t.Fatalf("digest %s, want %s", got, want)
			}
			pulls := g.events.pulls()
			if len(pulls) != 1 {
				t.Fatalf("%d pull events, want 1: %+v", len(pulls), g.events.all())
			}
			e := pulls[0]
			wantOutcome := event.OutcomeProxy
			if tc.mode == "redirect" {
				wantOutcome = event.OutcomeRedirect
			}
			if e.Outcome != wantOutcome || e.Docker.Image != "acme/app" || e.Docker.Reference != "1.0" || e.PackageID != "pkg-acme-app" {
				t.Errorf("pull event %+v", e)
			}
			if wantOutcome == event.OutcomeProxy && (e.Docker.Digest != want.String() || !strings.Contains(e.Docker.MediaType, "manifest")) {
				t.Errorf("proxied pull event lacks digest/media type: %+v", e.Docker)
			}
		})
	}
}

// TestPullCounts: N pulls are N pull events; a multi-arch pull is an
// index GET plus one manifest GET, each carrying what the store needs to
// fold them; HEAD-only requests are no pull.
func TestPullCounts(t *testing.T) {
	reg := newRegistry(t, regOpts{auth: true})
	img := randomImage(t, 2048, 2)
	reg.pushImage(t, "acme/app", "1.0", img)
	idx := multiArch(t)
	reg.pushIndex(t, "acme/multi", "2.0", idx)
	for _, mode := range []string{"proxy", "redirect"} {
		t.Run(mode, func(t *testing.T) {
			registry := "http://" + reg.Addr
			g := startGateway(t, manifestOf(
				v1Rule("acme/app", registry, `"mode":"`+mode+`"`),
				v1Rule("acme/multi", registry, `"mode":"`+mode+`"`)))
			if mode == "redirect" {
				// The test registry needs tokens, which a redirected
				// client loses; count redirects from requests alone.
				rawPulls(t, g, 3)
				return
			}
			const n = 3
			for range n {
				if _, err := pullImage(t, g.Addr+"/acme/app:1.0"); err != nil {
					t.Fatal(err)
				}
			}
			if got := len(g.events.pulls()); got != n {
				t.Fatalf("%d pulls gave %d pull events", n, got)
			}

			g.events.reset()
			ref, _ := name.ParseReference(g.Addr+"/acme/multi:2.0", name.Insecure)
			ix, err := remote.Index(ref)
			if err != nil {
				t.Fatal(err)
			}
			im, _ := ix.IndexManifest()
			child, err := ix.Image(im.Manifests[0].Digest)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate.Image(child); err != nil {
				t.Fatal(err)
			}
			pulls := g.events.pulls()
			if len(pulls) != 2 {
				t.Fatalf("multi-arch pull: %d pull events, want index + manifest: %+v", len(pulls), pulls)
			}
			idxDigest, _ := idx.Digest()
			if pulls[0].Docker.MediaType != "application/vnd.oci.image.index.v1+json" || pulls[0].Docker.Digest != idxDigest.String() || pulls[0].Docker.Reference != "2.0" {
				t.Errorf("index pull event: %+v", pulls[0].Docker)
			}
			if pulls[1].Docker.Digest != im.Manifests[0].Digest.String() || pulls[1].Docker.Reference != im.Manifests[0].Digest.String() || !strings.Contains(pulls[1].Docker.MediaType, "manifest") {
				t.Errorf("platform manifest pull event: %+v", pulls[1].Docker)
			}

			g.events.reset()
			if _, err := remote.Head(mustRef(t, g.Addr+"/acme/app:1.0")); err != nil {
				t.Fatal(err)
			}
			if p := g.events.pulls(); len(p) != 0 {
				t.Errorf("HEAD gave pull events: %+v", p)
			}
			var heads int
			for _, e := range g.events.all() {
				if e.Method == http.MethodHead && e.Docker.Object == "manifest" {
					heads++
					if e.Docker.Digest != digestOf(t, img).String() {
						t.Errorf("HEAD event without digest: %+v", e.Docker)
					}
				}
			}
			if heads != 1 {
				t.Errorf("%d HEAD manifest events, want 1", heads)
			}
		})
	}
}

// rawPulls sends n manifest GETs with a redirecting client's User-Agent and
// checks n pull events with the reference's digest when it is one.
func rawPulls(t *testing.T, g *gateway, n int) {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for range n {
		req, _ := http.NewRequest(http.MethodGet, "http://"+g.Addr+"/v2/acme/app/manifests/1.0", nil)
		req.Header.Set("User-Agent", "docker/27.3.1 go/go1.22")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTemporaryRedirect || !strings.HasSuffix(resp.Header.Get("Location"), "/v2/acme/app/manifests/1.0") {
			t.Fatalf("status %d location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if got := len(g.events.pulls()); got != n {
		t.Fatalf("%d redirected manifest GETs gave %d pull events", n, got)
	}
}

func mustRef(t testing.TB, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRenameMultiRegistryPrivate: one domain serves a renamed image from a
// private registry that needs credentials and another image from a second
// registry; Portico runs the auth handshake.
func TestRenameMultiRegistryPrivate(t *testing.T) {
	private := newRegistry(t, regOpts{auth: true, private: map[string]string{"acme-corp/rs": "robot:s3cret"}})
	open := newRegistry(t, regOpts{host: "reg2.test"})
	skates := randomImage(t, 4096, 2)
	tool := randomImage(t, 4096, 2)
	private.pushImage(t, "acme-corp/rs", "1.0", skates)
	open.pushImage(t, "other/tool", "3", tool)

	t.Setenv("PORTICO_TEST_SKATES", "robot:s3cret")
	credFile := tempFile(t, "creds", "robot:wrong\n")
	g := startGateway(t, manifestOf(
		v1Rule("acme/rocket-skates", "http://"+private.Addr, `"upstream-repository":"acme-corp/rs","credentials-env":"PORTICO_TEST_SKATES"`),
		v1Rule("acme/wrong-creds", "http://"+private.Addr, `"upstream-repository":"acme-corp/rs","credentials-file":"`+credFile+`"`),
		v1Rule("other/tool", "http://"+open.Addr, "")))

	// The ping is Portico's own challenge, with a realm on the host the
	// client used.
	resp, err := http.Get("http://" + g.Addr + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wantRealm := `Bearer realm="http://` + g.Addr + `/v2/token",service="gw.test"`
	if resp.StatusCode != 401 || resp.Header.Get("Www-Authenticate") != wantRealm {
		t.Fatalf("ping: %d %q, want 401 %q", resp.StatusCode, resp.Header.Get("Www-Authenticate"), wantRealm)
	}

	private.reset()
	open.reset()
	for _, tc := range []struct {
		ref  string
		want v1.Hash
	}{{"acme/rocket-skates:1.0", digestOf(t, skates)}, {"other/tool:3", digestOf(t, tool)}} {
		got, err := pullImage(t, g.Addr+"/"+tc.ref)
		if err != nil {
			t.Fatalf("pull %s: %v", tc.ref, err)
		}
		if got != tc.want {
			t.Fatalf("pull %s: digest %s, want %s", tc.ref, got, tc.want)
		}
	}
	for _, r := range private.Requests() {
		if r.Path != "/v2/" && !strings.HasPrefix(r.Path, "/v2/acme-corp/rs/") {
			t.Errorf("private registry got a request outside the renamed repository: %+v", r)
		}
		if strings.Contains(r.Auth, "pt1.") || strings.HasPrefix(r.Auth, "Basic") {
			t.Errorf("private registry got a client token or the credentials: %+v", r)
		}
	}
	for _, r := range open.Requests() {
		if r.Auth != "" {
			t.Errorf("open registry got credentials: %+v", r)
		}
	}
	for _, e := range g.events.pulls() {
		if e.Docker.Image == "acme/rocket-skates" && (e.Docker.Backend != private.Addr || e.Docker.Digest != digestOf(t, skates).String()) {
			t.Errorf("renamed pull event %+v", e.Docker)
		}
	}
	if n := len(g.events.pulls()); n != 2 {
		t.Errorf("%d pull events, want 2", n)
	}

	// Wrong credentials: the client gets a clear refusal and the event
	// says error.
	g.events.reset()
	_, err = pullImage(t, g.Addr+"/acme/wrong-creds:1.0")
	if err == nil || !strings.Contains(err.Error(), "DENIED") {
		t.Fatalf("pull with wrong upstream credentials: %v, want DENIED", err)
	}
	var errs int
	for _, e := range g.events.all() {
		if e.Outcome == event.OutcomeError && e.Docker.Image == "acme/wrong-creds" {
			errs++
		}
		if e.Docker.Pull {
			t.Errorf("refused pull counted: %+v", e)
		}
	}
	if errs == 0 {
		t.Errorf("no error event for the refused pull: %+v", g.events.all())
	}

	// A token from this gateway's key is refused by a gateway with
	// another key, and accepted by one sharing it.
	tok := fetchToken(t, g.Addr, "acme/rocket-skates")
	other := startGateway(t, manifestOf(v1Rule("acme/rocket-skates", "http://"+private.Addr, `"upstream-repository":"acme-corp/rs","credentials-env":"PORTICO_TEST_SKATES"`)))
	if st := getWithToken(t, other.Addr, "/v2/acme/rocket-skates/manifests/1.0", tok); st != 401 {
		t.Errorf("token from another key: status %d, want 401", st)
	}
	shared := startGateway(t, manifestOf(v1Rule("acme/rocket-skates", "http://"+private.Addr, `"upstream-repository":"acme-corp/rs","credentials-env":"PORTICO_TEST_SKATES"`)))
	shared.router.Swap(compile(t, manifestOf(v1Rule("acme/rocket-skates", "http://"+private.Addr, `"upstream-repository":"acme-corp/rs","credentials-env":"PORTICO_TEST_SKATES"`)), g.opts))
	if st := getWithToken(t, shared.Addr, "/v2/acme/rocket-skates/manifests/1.0", tok); st != 200 {
		t.Errorf("token on a replica sharing the key: status %d, want 200", st)
	}
	if st := getWithToken(t, g.Addr, "/v2/other/tool/manifests/3", tok); st != 401 {
		t.Errorf("token used for an image it does not grant: status %d, want 401", st)
	}
}

func fetchToken(t testing.TB, addr, repo string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/v2/token?service=gw.test&scope=repository:" + repo + ":pull")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Token == "" {
		t.Fatalf("token endpoint: %v", err)
	}
	return body.Token
}

func getWithToken(t testing.TB, addr, path, tok string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestRenameByPattern serves a docker-v2 collection under another name on
// the registry: the pattern's fixed segments are replaced by the rule's
// upstream-prefix.
func TestRenameByPattern(t *testing.T) {
	reg := newRegistry(t, regOpts{})
	rocket := randomImage(t, 4096, 2)
	reg.pushImage(t, "acme-corp/tools/rocket", "1.0", rocket)
	g := startGateway(t, manifestOf(`{"type":"docker-v2","domain":"gw.test","pattern":"acme/*","rule-id":"acme-images","upstream-prefix":"acme-corp/tools","registry":"http://`+reg.Addr+`"}`))

	reg.reset()
	got, err := pullImage(t, g.Addr+"/acme/rocket:1.0")
	if err != nil {
		t.Fatalf("pull acme/rocket: %v", err)
	}
	if want := digestOf(t, rocket); got != want {
		t.Fatalf("pull acme/rocket: digest %s, want %s", got, want)
	}
	for _, r := range reg.Requests() {
		if r.Path != "/v2/" && !strings.HasPrefix(r.Path, "/v2/acme-corp/tools/rocket/") {
			t.Errorf("registry got a request outside the renamed repository: %+v", r)
		}
	}
	pulls := g.events.pulls()
	if len(pulls) != 1 || pulls[0].Docker.Image != "acme/rocket" || pulls[0].RuleID != "acme-images" || pulls[0].PackageID != "" {
		t.Errorf("pull events %+v, want one for acme/rocket by rule acme-images", pulls)
	}
	if _, err := pullImage(t, g.Addr+"/other/rocket:1.0"); err == nil {
		t.Error("an image outside the pattern was served")
	}
}

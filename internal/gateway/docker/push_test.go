package docker_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"portico/internal/gateway/docker"
	"portico/internal/gateway/docker/dockertest"
	"portico/internal/manifest"
)

// TestPushNeedsTheRuleCredentials: on a domain where Portico runs the auth
// handshake, pushes go upstream with the rule's credentials, so only a
// client that logs in with those credentials gets a token that allows
// pushing. Anonymous clients still pull.
func TestPushNeedsTheRuleCredentials(t *testing.T) {
	reg := newRegistry(t, regOpts{auth: true, private: map[string]string{"acme-corp/rw": "robot:s3cret"}})
	t.Setenv("PORTICO_TEST_PUSH", "robot:s3cret")
	g := startGateway(t, manifestOf(
		v1Rule("acme/rw", "http://"+reg.Addr, `"upstream-repository":"acme-corp/rw","credentials-env":"PORTICO_TEST_PUSH","push":true`)))
	img := randomImage(t, 4096, 2)
	ref := mustRef(t, g.Addr+"/acme/rw:pushed")
	writes := func() int {
		n := 0
		for _, r := range reg.Requests() {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				n++
			}
		}
		return n
	}

	// Anonymous: the push is refused and nothing is written upstream.
	if err := remote.Write(ref, img); err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Errorf("anonymous push: %v, want UNAUTHORIZED", err)
	}
	if n := writes(); n != 0 {
		t.Errorf("an anonymous push sent %d writes to the registry", n)
	}
	// An anonymous token request for push gets pull only.
	tok := tokenFor(t, g.Addr, "acme/rw", "pull,push", nil)
	resp := get(t, http.MethodPost, "http://"+g.Addr+"/v2/acme/rw/blobs/uploads/", "Authorization", "Bearer "+tok)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("upload with an anonymous token: status %d, want 401", resp.StatusCode)
	}
	// (Nothing is there yet: the registry's 404 shows the read was let
	// through.)
	if st := getWithToken(t, g.Addr, "/v2/acme/rw/tags/list", tok); st != http.StatusNotFound {
		t.Errorf("read with the anonymous token: status %d, want the registry's 404", st)
	}
	// Wrong credentials are refused at the token endpoint, so a login
	// with them fails at once.
	for _, user := range []*url.Userinfo{url.UserPassword("robot", "wrong"), url.UserPassword("other", "s3cret"), url.User("robot")} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+g.Addr+"/v2/token?service=gw.test&scope=repository:acme/rw:pull,push", nil)
		pass, _ := user.Password()
		req.SetBasicAuth(user.Username(), pass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusUnauthorized || ociError(t, resp.Body) != "UNAUTHORIZED" {
			t.Errorf("token request as %s: status %d, want 401 UNAUTHORIZED", user, resp.StatusCode)
		}
		resp.Body.Close()
	}
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "robot", Password: "wrong"})); err == nil {
		t.Error("push with wrong credentials succeeded")
	}
	if n := writes(); n != 0 {
		t.Errorf("refused pushes sent %d writes to the registry", n)
	}

	// The rule's credentials: the push goes through, under the
	// registry's name for the image.
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "robot", Password: "s3cret"})); err != nil {
		t.Fatalf("push with the rule's credentials: %v", err)
	}
	got, err := pullImage(t, reg.Addr+"/acme-corp/rw:pushed", reg.seedOpts()...)
	if err != nil || got != digestOf(t, img) {
		t.Fatalf("pushed image on the registry: %v %v", got, err)
	}
	// The same credentials as an OAuth2 password grant (what containerd
	// posts first) give push too.
	form := url.Values{"grant_type": {"password"}, "username": {"robot"}, "password": {"s3cret"}, "service": {"gw.test"}, "scope": {"repository:acme/rw:pull,push"}}
	postTok := tokenFor(t, g.Addr, "", "", form)
	resp = get(t, http.MethodPost, "http://"+g.Addr+"/v2/acme/rw/blobs/uploads/", "Authorization", "Bearer "+postTok)
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("upload with a password-grant token: status %d, want 202", resp.StatusCode)
	}
	// Pulls need no credentials.
	if got, err := pullImage(t, g.Addr+"/acme/rw:pushed"); err != nil || got != digestOf(t, img) {
		t.Errorf("anonymous pull: %v %v", got, err)
	}
}

// tokenFor asks the gateway's token endpoint for repo with actions, or
// posts form when it is not nil.
func tokenFor(t *testing.T, addr, repo, actions string, form url.Values) string {
	t.Helper()
	var resp *http.Response
	var err error
	if form != nil {
		resp, err = http.PostForm("http://"+addr+"/v2/token", form)
	} else {
		resp, err = http.Get("http://" + addr + "/v2/token?service=gw.test&scope=repository:" + repo + ":" + actions)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Token == "" {
		t.Fatalf("token endpoint: status %d, %v", resp.StatusCode, err)
	}
	return body.Token
}

// TestManifestKnowsTheHandshake: the manifest refuses "push": true without
// credentials exactly on the domains where the docker handler runs
// Portico's auth handshake, so the two decide alike.
func TestManifestKnowsTheHandshake(t *testing.T) {
	pushed := v1Rule("acme/a", "ghcr.io", `"push":true`)
	for _, c := range []struct {
		name   string
		others []string
		owned  bool
	}{
		{"one rule", nil, false},
		{"one registry", []string{v1Rule("acme/b", "ghcr.io", "")}, false},
		{"one registry written two ways", []string{v1Rule("acme/b", "https://ghcr.io", "")}, false},
		{"two registries", []string{v1Rule("acme/b", "quay.io", "")}, true},
		{"another scheme", []string{v1Rule("acme/b", "http://ghcr.io", "")}, true},
		{"a rename", []string{v1Rule("acme/b", "ghcr.io", `"upstream-repository":"org/b"`)}, true},
		{"credentials", []string{v1Rule("acme/b", "ghcr.io", `"credentials-env":"X"`)}, true},
		{"a v2 prefix", []string{`{"type":"docker-v2","domain":"gw.test","pattern":"tools/*","rule-id":"t","registry":"ghcr.io","upstream-prefix":"org/tools"}`}, true},
		{"a v2 on another registry", []string{`{"type":"docker-v2","domain":"gw.test","pattern":"tools/*","rule-id":"t","registry":"quay.io"}`}, true},
		{"another domain", []string{strings.Replace(v1Rule("acme/b", "quay.io", `"credentials-env":"X"`), "gw.test", "other.test", 1)}, false},
	} {
		rules := append([]string{v1Rule("acme/a", "ghcr.io", "")}, c.others...)
		m, err := manifest.Decode("m.json", []byte(manifestOf(rules...)))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var v1s []*manifest.DockerV1
		var v2s []*manifest.DockerV2
		for _, r := range m.Rules {
			if r.Common().Host != "gw.test" {
				continue
			}
			switch r := r.(type) {
			case *manifest.DockerV1:
				v1s = append(v1s, r)
			case *manifest.DockerV2:
				v2s = append(v2s, r)
			}
		}
		h, err := docker.New(v1s, v2s, nil, dockertest.Options(t))
		if err != nil {
			t.Fatal(err)
		}
		owned := h.OwnsAuth()
		if owned != c.owned {
			t.Errorf("%s: handler owns the handshake: %v, want %v", c.name, owned, c.owned)
		}
		_, err = manifest.Decode("m.json", []byte(manifestOf(append([]string{pushed}, c.others...)...)))
		if refused := err != nil; refused != owned {
			t.Errorf("%s: push without credentials refused: %v (%v); the handler owns the handshake: %v", c.name, refused, err, owned)
		} else if refused && !strings.Contains(err.Error(), "rules[0] (docker-v1): push: needs credentials-env or credentials-file") {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

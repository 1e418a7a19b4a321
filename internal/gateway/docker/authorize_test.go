package docker_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"portico/internal/event"
	"portico/internal/gateway/docker"
	"portico/internal/gateway/docker/dockertest"
	"portico/internal/testenv"
)

// policy is an access policy whose decision the test changes between
// steps; it records what it was asked.
type policy struct {
	mu     sync.Mutex
	decide func(docker.TokenRequest) (docker.Access, error)
	asked  []docker.TokenRequest
}

func (p *policy) authorize(_ context.Context, req docker.TokenRequest) (docker.Access, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, req)
	return p.decide(req)
}

func (p *policy) set(decide func(docker.TokenRequest) (docker.Access, error)) {
	p.mu.Lock()
	p.decide, p.asked = decide, nil
	p.mu.Unlock()
}

func (p *policy) requests() []docker.TokenRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.asked)
}

// syncLog collects log output written from request goroutines.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// authorizeEnv is a domain where Portico runs the auth handshake (its
// images are renamed): acme/open and acme/closed by docker-v1 rules,
// acme/open with pushes for the rule's credentials, and tools/* by a
// docker-v2 rule, all served by the one registry.
type authorizeEnv struct {
	reg  *testRegistry
	g    *gateway
	pol  *policy
	logs *syncLog
	want string // digest of every image
}

func newAuthorizeEnv(t *testing.T) *authorizeEnv {
	t.Helper()
	reg := newRegistry(t, regOpts{})
	img := randomImage(t, 4096, 2)
	for _, repo := range []string{"acme-corp/open", "acme-corp/closed", "acme-corp/tools/hammer"} {
		reg.pushImage(t, repo, "1.0", img)
	}
	reg.reset()
	t.Setenv("PORTICO_TEST_OPEN", "robot:s3cret")
	e := &authorizeEnv{reg: reg, pol: &policy{}, logs: &syncLog{}, want: digestOf(t, img).String()}
	e.pol.set(func(docker.TokenRequest) (docker.Access, error) { return docker.Access{Pull: true}, nil })
	opts := newOptions(t)
	opts.Docker.Authorize = e.pol.authorize
	opts.Docker.Logger = slog.New(slog.NewTextHandler(e.logs, nil))
	e.g = startGatewayWith(t, manifestOf(
		v1Rule("acme/open", "http://"+reg.Addr, `"upstream-repository":"acme-corp/open","credentials-env":"PORTICO_TEST_OPEN","push":true`),
		v1Rule("acme/closed", "http://"+reg.Addr, `"upstream-repository":"acme-corp/closed"`),
		`{"type":"docker-v2","domain":"gw.test","pattern":"tools/*","rule-id":"tools","upstream-prefix":"acme-corp/tools","registry":"http://`+reg.Addr+`"}`), opts)
	return e
}

// denyClosed refuses everything on acme/closed's package and offers
// everything elsewhere, push included: the token must still hold only
// what was asked and Portico's own checks allow.
func denyClosed(req docker.TokenRequest) (docker.Access, error) {
	if req.PackageID == "pkg-acme-closed" {
		return docker.Access{}, nil
	}
	return docker.Access{Pull: true, Push: true}, nil
}

// TestAuthorize: on a domain where Portico runs the auth handshake, the
// access policy decides what each token grants. A repository it refuses
// is left out of the token, as the distribution token specification
// has it, so the registry API answers 401 UNAUTHORIZED with an
// insufficient_scope challenge; go-containerregistry's client then fails
// the pull with that 401 (after one retry with a fresh token), and
// nothing reaches the backend.
func TestAuthorize(t *testing.T) {
	e := newAuthorizeEnv(t)
	g := e.g
	e.pol.set(denyClosed)

	for _, ref := range []string{"acme/open:1.0", "tools/hammer:1.0"} {
		got, err := pullImage(t, g.Addr+"/"+ref)
		if err != nil || got.String() != e.want {
			t.Errorf("pull %s with the policy allowing it: %v %v", ref, got, err)
		}
	}
	e.reg.reset()
	g.events.reset()
	_, err := pullImage(t, g.Addr+"/acme/closed:1.0")
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusUnauthorized || len(terr.Errors) == 0 || terr.Errors[0].Code != transport.UnauthorizedErrorCode {
		t.Fatalf("pull of a refused image: %v, want a 401 UNAUTHORIZED registry error", err)
	}
	for _, r := range e.reg.Requests() {
		if strings.Contains(r.Path, "/closed/") {
			t.Errorf("the registry was asked for a refused image: %+v", r)
		}
	}
	if p := g.events.pulls(); len(p) != 0 {
		t.Errorf("refused pull counted: %s", describe(p))
	}
	if evs := g.events.all(); len(evs) == 0 || !slices.ContainsFunc(evs, func(ev event.Event) bool {
		return ev.Docker.Image == "acme/closed" && ev.Outcome == event.OutcomeError && ev.Status == http.StatusUnauthorized
	}) {
		t.Errorf("no 401 error event for the refused pull: %s", describe(evs))
	}

	// The policy is asked with the repository, its rule and the domain.
	asked := e.pol.requests()
	want := docker.TokenRequest{Domain: "gw.test", Repository: "acme/closed", PackageID: "pkg-acme-closed"}
	if len(asked) == 0 || !slices.Contains(asked, want) {
		t.Errorf("policy asked %+v, want %+v among them", asked, want)
	}
	e.pol.set(denyClosed)
	if _, err := pullImage(t, g.Addr+"/tools/hammer:1.0"); err != nil {
		t.Fatal(err)
	}
	want = docker.TokenRequest{Domain: "gw.test", Repository: "tools/hammer", RuleID: "tools"}
	if asked := e.pol.requests(); !slices.Contains(asked, want) {
		t.Errorf("policy asked %+v, want %+v among them", asked, want)
	}

	// One token request for both: the token is issued, with the
	// allowed repository only.
	tok := tokenForScopes(t, g.Addr, nil, "repository:acme/open:pull", "repository:acme/closed:pull")
	if st := getWithToken(t, g.Addr, "/v2/acme/open/manifests/1.0", tok); st != http.StatusOK {
		t.Errorf("allowed image with the token: status %d, want 200", st)
	}
	resp := get(t, http.MethodGet, "http://"+g.Addr+"/v2/acme/closed/manifests/1.0", "Authorization", "Bearer "+tok)
	ch := resp.Header.Get("Www-Authenticate")
	if resp.StatusCode != http.StatusUnauthorized || ociError(t, resp.Body) != "UNAUTHORIZED" ||
		!strings.Contains(ch, `scope="repository:acme/closed:pull"`) || !strings.Contains(ch, `error="insufficient_scope"`) {
		t.Errorf("refused image with the token: %d %q, want 401 UNAUTHORIZED with an insufficient_scope challenge", resp.StatusCode, ch)
	}
	resp.Body.Close()
	// Without a token, the challenge is the plain one.
	resp = get(t, http.MethodGet, "http://"+g.Addr+"/v2/acme/closed/manifests/1.0")
	if ch := resp.Header.Get("Www-Authenticate"); resp.StatusCode != http.StatusUnauthorized || strings.Contains(ch, "error=") {
		t.Errorf("refused image without a token: %d %q, want 401 without an error parameter", resp.StatusCode, ch)
	}
	resp.Body.Close()
}

// TestAuthorizeNarrowsOnly: the policy can take access away, never add
// it. Push is asked of it only for a client that logged in with the
// rule's credentials, and an anonymous token does not push whatever the
// policy answers; a policy that refuses push stops a client that holds
// the credentials.
func TestAuthorizeNarrowsOnly(t *testing.T) {
	e := newAuthorizeEnv(t)
	g := e.g
	img := randomImage(t, 4096, 1)
	ref := mustRef(t, g.Addr+"/acme/open:pushed")
	creds := remote.WithAuth(&authn.Basic{Username: "robot", Password: "s3cret"})

	e.pol.set(denyClosed) // offers push to everyone
	anon := tokenForScopes(t, g.Addr, nil, "repository:acme/open:pull,push")
	resp := get(t, http.MethodPost, "http://"+g.Addr+"/v2/acme/open/blobs/uploads/", "Authorization", "Bearer "+anon)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("upload with an anonymous token the policy offered push: status %d, want 401", resp.StatusCode)
	}
	want := docker.TokenRequest{Domain: "gw.test", Repository: "acme/open", PackageID: "pkg-acme-open", Push: false}
	if asked := e.pol.requests(); !slices.Equal(asked, []docker.TokenRequest{want}) {
		t.Errorf("anonymous push token: policy asked %+v, want %+v", asked, want)
	}

	// The rule's credentials, and a policy that refuses push.
	e.pol.set(func(docker.TokenRequest) (docker.Access, error) { return docker.Access{Pull: true}, nil })
	if err := remote.Write(ref, img, creds); err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Errorf("push with push refused by the policy: %v, want UNAUTHORIZED", err)
	}
	if asked := e.pol.requests(); !slices.ContainsFunc(asked, func(r docker.TokenRequest) bool { return r.Repository == "acme/open" && r.Push }) {
		t.Errorf("push with the rule's credentials: policy asked %+v, want push asked", asked)
	}
	for _, r := range e.reg.Requests() {
		if r.Method != http.MethodGet && r.Method != http.MethodHead && strings.Contains(r.Path, "/open/") {
			t.Errorf("a push refused by the policy reached the registry: %+v", r)
		}
	}
	// The same with push allowed: the push goes through.
	e.pol.set(denyClosed)
	if err := remote.Write(ref, img, creds); err != nil {
		t.Errorf("push with the rule's credentials and push allowed: %v", err)
	}
	// Push without pull grants nothing.
	e.pol.set(func(docker.TokenRequest) (docker.Access, error) { return docker.Access{Push: true}, nil })
	basic := http.Header{}
	basic.Set("Authorization", "Basic cm9ib3Q6czNjcmV0") // robot:s3cret
	tok := tokenForScopes(t, g.Addr, basic, "repository:acme/open:pull,push")
	if st := getWithToken(t, g.Addr, "/v2/acme/open/manifests/1.0", tok); st != http.StatusUnauthorized {
		t.Errorf("read with a push-only grant: status %d, want 401", st)
	}
}

// TestAuthorizeFailure: a policy that cannot decide fails the token
// request with 503 UNAVAILABLE, so the client retries instead of taking
// it for a refusal, and the gateway logs why.
func TestAuthorizeFailure(t *testing.T) {
	e := newAuthorizeEnv(t)
	e.pol.set(func(docker.TokenRequest) (docker.Access, error) {
		return docker.Access{}, errors.New("the package store is away")
	})
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		var resp *http.Response
		if method == http.MethodGet {
			resp = get(t, method, "http://"+e.g.Addr+"/v2/token?service=gw.test&scope=repository:acme/open:pull")
		} else {
			var err error
			form := url.Values{"grant_type": {"password"}, "username": {"robot"}, "password": {"s3cret"}, "service": {"gw.test"}, "scope": {"repository:acme/open:pull,push"}}
			if resp, err = http.PostForm("http://"+e.g.Addr+"/v2/token", form); err != nil {
				t.Fatal(err)
			}
		}
		if resp.StatusCode != http.StatusServiceUnavailable || ociError(t, resp.Body) != "UNAVAILABLE" {
			t.Errorf("%s token with a failing policy: status %d, want 503 UNAVAILABLE", method, resp.StatusCode)
		}
		resp.Body.Close()
	}
	if l := e.logs.String(); !strings.Contains(l, "the package store is away") || !strings.Contains(l, "repository=acme/open") {
		t.Errorf("log does not say why the token was not issued:\n%s", l)
	}
	// The registry client gives up with the token endpoint's answer.
	var terr *transport.Error
	_, err := pullImage(t, e.g.Addr+"/acme/open:1.0", remote.WithRetryBackoff(remote.Backoff{Steps: 1}))
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("pull with a failing policy: %v, want the token endpoint's 503", err)
	}
}

// TestAllowPull: the public policy grants pull, and push exactly where
// Portico's own check let the request ask for it.
func TestAllowPull(t *testing.T) {
	for _, push := range []bool{false, true} {
		got, err := docker.AllowPull(t.Context(), docker.TokenRequest{Domain: "gw.test", Repository: "acme/a", PackageID: "p", Push: push})
		if want := (docker.Access{Pull: true, Push: push}); err != nil || got != want {
			t.Errorf("AllowPull(push %v) = %+v, %v; want %+v", push, got, err, want)
		}
	}
}

// TestAuthorizeClients: the real clients pull what the policy allows and
// fail at once, without looping, on what it refuses, each with its
// usual message for an image one may not pull.
func TestAuthorizeClients(t *testing.T) {
	e := newAuthorizeEnv(t)
	clients := []struct {
		name string
		// start prepares the client, or stops the test when it is
		// missing, and returns its pull.
		start func(t *testing.T) func(t *testing.T, ref string) error
		says  string // in the refusal, lower case
	}{
		{"crane", func(t *testing.T) func(*testing.T, string) error {
			bin := testenv.LookPath(t, "crane")
			return func(t *testing.T, ref string) error {
				_, err := dockertest.Run(t, time.Minute, bin, "pull", "--insecure", "--format", "oci", ref, t.TempDir())
				return err
			}
		}, "unauthorized"},
		{"skopeo", func(t *testing.T) func(*testing.T, string) error {
			bin := testenv.LookPath(t, "skopeo")
			return func(t *testing.T, ref string) error {
				_, err := dockertest.Run(t, time.Minute, bin, "--insecure-policy", "copy", "--src-tls-verify=false", "--retry-times", "0", "docker://"+ref, "dir:"+filepath.Join(t.TempDir(), "img"))
				return err
			}
		}, "requested access to the resource is denied"},
		{"containerd", func(t *testing.T) func(*testing.T, string) error {
			c := startContainerd(t)
			return func(t *testing.T, ref string) error {
				_, err := c.pull(t, ref)
				return err
			}
		}, "insufficient_scope"},
		{"docker", func(t *testing.T) func(*testing.T, string) error {
			d := dockertest.StartDockerd(t, dockertest.DockerdOptions{Insecure: []string{e.g.Addr}})
			return func(t *testing.T, ref string) error {
				_, err := d.Pull(t, ref)
				return err
			}
		}, "pull access denied"},
	}
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			pull := c.start(t)
			e.pol.set(denyClosed)
			if err := pull(t, e.g.Addr+"/acme/open:1.0"); err != nil {
				t.Fatalf("%s pull of an allowed image: %v", c.name, err)
			}
			e.pol.set(denyClosed)
			start := time.Now()
			err := pull(t, e.g.Addr+"/acme/closed:1.0")
			if err == nil {
				t.Fatalf("%s pulled an image the policy refuses", c.name)
			}
			if !strings.Contains(strings.ToLower(err.Error()), c.says) {
				t.Errorf("%s on a refused image does not say %q: %v", c.name, c.says, err)
			}
			if n := len(e.pol.requests()); n > 4 {
				t.Errorf("%s asked for %d tokens on a refused image, want a few", c.name, n)
			}
			t.Logf("%s refused in %v after %d token requests: %s", c.name, time.Since(start).Round(time.Millisecond), len(e.pol.requests()), lastLine(err.Error()))
		})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// tokenForScopes asks the gateway's token endpoint for scopes, with the
// header h (credentials) when not nil.
func tokenForScopes(t *testing.T, addr string, h http.Header, scopes ...string) string {
	t.Helper()
	u := "http://" + addr + "/v2/token?service=gw.test"
	for _, s := range scopes {
		u += "&scope=" + s
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.Token == "" {
		t.Fatalf("token for %v: status %d, %v; want 200 with a token", scopes, resp.StatusCode, err)
	}
	return body.Token
}

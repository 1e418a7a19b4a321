package docker_test

// Pulls through Portico with the real registry clients: crane, skopeo,
// podman, containerd (ctr) and docker (dockerd). Each test also probes
// whether the client follows a cross-host redirect with its credentials
// intact, the fact behind "mode": "auto" (docs/docker.md).

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"portico/internal/event"
	"portico/internal/gateway/docker"
	"portico/internal/gateway/docker/dockertest"
	"portico/internal/testenv"
)

// ociClient drives one real client.
type ociClient struct {
	name string
	// pull fetches ref completely and returns the manifest digest the
	// client stored.
	pull func(t *testing.T, ref string) (string, error)
	// remove forgets a pulled image (clients with an image store).
	remove func(t *testing.T, ref string)
	// retriesManifests: the client GETs each manifest twice through a
	// redirect (see exercise).
	retriesManifests bool
}

func (c ociClient) getsPerManifest() int {
	if c.retriesManifests {
		return 2
	}
	return 1
}

// ociLayoutDigest reads the manifest digest of an OCI layout directory.
func ociLayoutDigest(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		return "", err
	}
	var idx struct {
		Manifests []struct{ Digest string } `json:"manifests"`
	}
	if err := json.Unmarshal(b, &idx); err != nil || len(idx.Manifests) == 0 {
		return "", fmt.Errorf("index.json: %v", err)
	}
	return idx.Manifests[0].Digest, nil
}

// clientEnv is what every client test pulls from: one authed registry
// with a single-arch and a multi-arch image, and one gateway port serving
// gw.test (mode auto, Scarf's pass-through) and gw2.test (mode redirect,
// forcing the cross-host redirect the probe observes).
type clientEnv struct {
	reg     *testRegistry
	g       *gateway
	port    string
	digests []string // of acme/app:1.0 and acme/app:1.1
	index   string   // digest of acme/multi:2.0
}

func newClientEnv(t *testing.T) *clientEnv {
	t.Helper()
	reg := newRegistry(t, regOpts{auth: true})
	// Two different images: a daemon that keeps manifests it has seen
	// (dockerd does, even after rmi) only GETs a manifest it lacks.
	var digests []string
	for _, tag := range []string{"1.0", "1.1"} {
		img := randomImage(t, 64<<10, 2)
		reg.pushImage(t, "acme/app", tag, img)
		digests = append(digests, digestOf(t, img).String())
	}
	idx := multiArch(t)
	reg.pushIndex(t, "acme/multi", "2.0", idx)
	registry := "http://" + reg.Addr
	onDomain := func(domain, image, extra string) string {
		return strings.Replace(v1Rule(image, registry, extra), `"domain":"gw.test"`, `"domain":"`+domain+`"`, 1)
	}
	g := startGateway(t, manifestOf(
		onDomain("gw.test", "acme/app", ""),
		onDomain("gw.test", "acme/multi", ""),
		onDomain("gw2.test", "acme/app", `"mode":"redirect"`)))
	_, port, _ := net.SplitHostPort(g.Addr)
	id, _ := idx.Digest()
	return &clientEnv{reg: reg, g: g, port: port, digests: digests, index: id.String()}
}

func (e *clientEnv) ref(domain, image string) string { return domain + ":" + e.port + "/" + image }

// exercise runs the common checks for one client: N pulls give N pull
// events with the right digest; a multi-arch pull gives the index and
// platform manifest GETs; the redirect probe agrees with the auto list.
func (e *clientEnv) exercise(t *testing.T, c ociClient) {
	const n = 2
	e.reg.reset()
	for i, tag := range []string{"1.0", "1.1"} {
		got, err := c.pull(t, e.ref("gw.test", "acme/app:"+tag))
		if err != nil {
			t.Fatalf("%s pull %d: %v", c.name, i+1, err)
		}
		if got != e.digests[i] {
			t.Fatalf("%s pull: digest %s, want %s", c.name, got, e.digests[i])
		}
	}
	ref := e.ref("gw.test", "acme/app:1.0")
	for _, s := range e.reg.Requests() {
		t.Logf("  registry saw %s %s auth=%v", s.Method, s.Path, s.Auth != "")
	}
	pulls := e.g.events.pulls()
	// containerd 1.6 sends each manifest GET twice when redirected: the
	// first reaches the registry without a token and is retried through
	// the gateway after the 401. Both are manifest GETs of the same
	// digest, as Docker Hub would count them too; the store folds them.
	wantEvents := n * c.getsPerManifest()
	distinct := map[string]bool{}
	for _, p := range pulls {
		distinct[p.Docker.Digest] = true
	}
	if len(pulls) != wantEvents || len(distinct) != n {
		t.Fatalf("%s: %d pulls gave %d pull events of %d manifests, want %d events: %s", c.name, n, len(pulls), len(distinct), wantEvents, describe(e.g.events.all()))
	}
	ua := pulls[0].UserAgent
	t.Logf("%s User-Agent: %q; outcome %s", c.name, ua, pulls[0].Outcome)

	if c.remove != nil {
		// The image is present: pulling it again checks the tag with
		// HEAD and downloads nothing, which is no pull.
		e.g.events.reset()
		if _, err := c.pull(t, ref); err != nil {
			t.Fatalf("%s re-pull: %v", c.name, err)
		}
		var gets int
		for _, ev := range e.g.events.all() {
			if ev.Docker.Object == "manifest" && ev.Method == "GET" {
				gets++
			}
		}
		if p := len(e.g.events.pulls()); p != gets {
			t.Errorf("%s re-pull of a present image: %d pull events for %d manifest GETs", c.name, p, gets)
		}
		t.Logf("%s re-pull of a present image: %d manifest GETs, %d pull events", c.name, gets, len(e.g.events.pulls()))
		if c.name == "docker" && gets != 0 {
			t.Errorf("docker re-pull of a present image sent %d manifest GETs, want HEAD only", gets)
		}
		c.remove(t, ref)
		c.remove(t, e.ref("gw.test", "acme/app:1.1"))
	}

	e.g.events.reset()
	if _, err := c.pull(t, e.ref("gw.test", "acme/multi:2.0")); err != nil {
		t.Fatalf("%s multi-arch pull: %v", c.name, err)
	}
	pulls = e.g.events.pulls()
	// The index is fetched by tag, or by its digest after a HEAD of the
	// tag (docker, containerd); then one platform manifest by digest.
	var sawIndex, sawChild bool
	for _, p := range pulls {
		switch {
		case p.Docker.Reference == "2.0" || p.Docker.Reference == e.index:
			sawIndex = true
		case strings.HasPrefix(p.Docker.Reference, "sha256:"):
			sawChild = true
		}
	}
	if !sawIndex || !sawChild {
		t.Errorf("%s multi-arch pull: pull events %s, want the index by tag and a platform manifest by digest", c.name, describe(pulls))
	}
	t.Logf("%s multi-arch pull: %d pull events", c.name, len(pulls))

	// The redirect probe: through gw2.test every request is redirected
	// to the authed registry.
	e.reg.reset()
	if c.remove != nil {
		c.remove(t, e.ref("gw.test", "acme/multi:2.0"))
	}
	_, err := c.pull(t, e.ref("gw2.test", "acme/app:1.0"))
	follows := err == nil
	var carried bool
	for _, s := range e.reg.Requests() {
		if strings.Contains(s.Path, "/manifests/") && strings.HasPrefix(s.Auth, "Bearer ") {
			carried = true
		}
	}
	t.Logf("REDIRECT-PROBE client=%s ua=%q pull-after-cross-host-redirect=%v token-sent-to-registry=%v", c.name, ua, follows, carried)
	if err != nil {
		t.Logf("redirect probe error: %v", err)
	}
	for _, s := range e.reg.Requests() {
		t.Logf("  registry saw %s %s auth=%v", s.Method, s.Path, s.Auth != "")
	}
	if docker.FollowsRedirects(ua) && !follows {
		t.Errorf("%s (%q) is redirected in auto mode but cannot pull through a redirect: %v", c.name, ua, err)
	}
	if follows && !docker.FollowsRedirects(ua) {
		t.Logf("%s follows redirects with its credentials but auto mode proxies it", c.name)
	}
}

func describe(evs []event.Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "\n  %s %s %d %s pull=%v mt=%s digest=%s ua=%q", e.Method, e.Path, e.Status, e.Outcome, e.Docker.Pull, e.Docker.MediaType, e.Docker.Digest, e.UserAgent)
	}
	return b.String()
}

func TestClientCrane(t *testing.T) {
	bin := testenv.LookPath(t, "crane")
	e := newClientEnv(t)
	e.exercise(t, ociClient{name: "crane", pull: func(t *testing.T, ref string) (string, error) {
		dir := t.TempDir()
		if _, err := dockertest.Run(t, 2*time.Minute, bin, "pull", "--insecure", "--format", "oci", ref, dir); err != nil {
			return "", err
		}
		return ociLayoutDigest(dir)
	}})
}

func TestClientSkopeo(t *testing.T) {
	bin := testenv.LookPath(t, "skopeo")
	e := newClientEnv(t)
	e.exercise(t, ociClient{name: "skopeo", pull: func(t *testing.T, ref string) (string, error) {
		dir := t.TempDir()
		// The dir: transport keeps the manifest byte for byte.
		if _, err := dockertest.Run(t, 2*time.Minute, bin, "--insecure-policy", "copy", "--src-tls-verify=false", "docker://"+ref, "dir:"+dir); err != nil {
			return "", err
		}
		b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
		return fmt.Sprintf("sha256:%x", sha256.Sum256(b)), err
	}})
}

func TestClientPodman(t *testing.T) {
	bin := testenv.LookPath(t, "podman")
	if os.Geteuid() != 0 {
		testenv.Missing(t, "podman", "the podman test runs as root")
	}
	dir := t.TempDir()
	base := []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"), "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file"}
	e := newClientEnv(t)
	e.exercise(t, ociClient{
		name: "podman",
		pull: func(t *testing.T, ref string) (string, error) {
			if _, err := dockertest.Run(t, 3*time.Minute, bin, append(base, "pull", "--tls-verify=false", ref)...); err != nil {
				return "", err
			}
			out, err := dockertest.Run(t, time.Minute, bin, append(base, "image", "inspect", "--format", "{{.Digest}}", ref)...)
			return strings.TrimSpace(out), err
		},
		remove: func(t *testing.T, ref string) {
			_, _ = dockertest.Run(t, time.Minute, bin, append(base, "rmi", "-f", ref)...)
		},
	})
}

// containerd is a containerd daemon run for one test, driven with ctr.
type containerd struct{ ctr, sock string }

// startContainerd runs containerd until the test ends, or stops the test
// through testenv when it cannot.
func startContainerd(t *testing.T) *containerd {
	t.Helper()
	ctrd := testenv.LookPath(t, "containerd")
	ctr := testenv.LookPath(t, "ctr")
	if os.Geteuid() != 0 {
		testenv.Missing(t, "containerd", "the containerd test runs as root")
	}
	dir, err := os.MkdirTemp("", "ctrd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "c.sock")
	cfg := filepath.Join(dir, "config.toml")
	os.WriteFile(cfg, []byte("version = 2\n"), 0o644)
	dockertest.Daemon(t, filepath.Join(dir, "log"), nil, ctrd, "--config", cfg, "--address", sock, "--root", filepath.Join(dir, "root"), "--state", filepath.Join(dir, "state"))
	waitFor(t, "containerd", func() bool {
		_, err := dockertest.Run(t, 10*time.Second, ctr, "--address", sock, "version")
		return err == nil
	})
	return &containerd{ctr: ctr, sock: sock}
}

// pull pulls ref and returns the digest containerd stored for it.
func (c *containerd) pull(t *testing.T, ref string) (string, error) {
	if _, err := dockertest.Run(t, 3*time.Minute, c.ctr, "--address", c.sock, "images", "pull", "--plain-http", "--snapshotter", "native", "--platform", "linux/amd64", ref); err != nil {
		return "", err
	}
	out, err := dockertest.Run(t, time.Minute, c.ctr, "--address", c.sock, "images", "ls")
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 3 && f[0] == ref {
			return f[2], err
		}
	}
	return "", fmt.Errorf("%s not in ctr images ls: %v\n%s", ref, err, out)
}

func (c *containerd) remove(t *testing.T, ref string) {
	_, _ = dockertest.Run(t, time.Minute, c.ctr, "--address", c.sock, "images", "rm", ref)
}

func TestClientContainerd(t *testing.T) {
	c := startContainerd(t)
	e := newClientEnv(t)
	e.exercise(t, ociClient{
		name:             "containerd",
		retriesManifests: true,
		pull:             c.pull,
		remove:           c.remove,
	})
}

func TestClientDocker(t *testing.T) {
	testenv.LookPath(t, "dockerd")
	e := newClientEnv(t)
	d := dockertest.StartDockerd(t, dockertest.DockerdOptions{Insecure: []string{"gw.test:" + e.port, "gw2.test:" + e.port, e.reg.Addr}})
	e.exercise(t, ociClient{
		name:   "docker",
		pull:   func(t *testing.T, ref string) (string, error) { return d.Pull(t, ref) },
		remove: func(t *testing.T, ref string) { d.Remove(t, ref) },
	})
}

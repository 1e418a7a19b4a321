package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"portico/internal/gateway/docker/dockertest"
	"portico/internal/testenv"
)

// scarfREADMEManifest is the manifest of Scarf Gateway's README ("Getting
// Started"), byte for byte except for the registry, which REGISTRY
// replaces.
const scarfREADMEManifest = `{
    "rules": [
        {
          "repository-name": "library/hello-world",
          "package-id": "aaf2ec15-5244-484b-845a-ffd559e5f802",
          "domain": "testorg.docker.scarf.sh",
          "registry": "REGISTRY",
          "type": "docker-v1"
        }
    ]
}`

// hubStandIn starts a registry holding library/hello-world:latest. It
// stands in for Docker Hub under Docker Hub's name: the manifest names it
// http://registry-1.docker.io:PORT, and the transport returned dials that
// name on 127.0.0.1 (docker reaches it as a forward proxy instead), so
// nothing leaves the machine.
func hubStandIn(t *testing.T) (registryField string, transport *http.Transport, digest string) {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference("127.0.0.1:"+port+"/library/hello-world:latest", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	var dialer net.Dialer
	transport = &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, p, _ := net.SplitHostPort(addr); host == "registry-1.docker.io" {
			addr = net.JoinHostPort("127.0.0.1", p)
		}
		return dialer.DialContext(ctx, network, addr)
	}}
	return "http://registry-1.docker.io:" + port, transport, d.String()
}

// startDropIn runs "portico --manifest ./my-manifest.json" in a fresh
// directory, exactly as the Scarf README says, with the listen addresses
// given through the environment so the command line stays as written.
// Free ports can be taken by another process before portico binds them,
// so a start that fails that way is tried again on new ones.
func startDropIn(t *testing.T, manifest string) (addr string, stdout, stderr *testenv.Buffer) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "my-manifest.json"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	for try := 0; ; try++ {
		addr, ops := freeAddr(t), freeAddr(t)
		cmd := exec.Command(bin, "--manifest", "./my-manifest.json")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PORTICO_LISTEN="+addr, "PORTICO_OPS_LISTEN="+ops)
		stdout, stderr = &testenv.Buffer{}, &testenv.Buffer{}
		cmd.Stdout, cmd.Stderr = stdout, stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		stop := func() { _ = cmd.Process.Kill(); <-done }
		if waitListening(addr, done) {
			t.Cleanup(func() {
				stop()
				if t.Failed() {
					t.Logf("stderr:\n%s\nstdout:\n%s", stderr, stdout)
				}
			})
			return addr, stdout, stderr
		}
		stop()
		if try == 2 || !strings.Contains(stderr.String(), "address already in use") {
			t.Fatalf("portico did not start listening:\n%s", stderr)
		}
	}
}

// waitListening waits until addr accepts connections, or the process
// ends (done is closed), or a generous deadline passes.
func waitListening(addr string, done <-chan struct{}) bool {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return true
		}
		select {
		case <-done:
			return false
		case <-time.After(10 * time.Millisecond):
		}
	}
	return false
}

// fetchBody is get that also returns the body.
func fetchBody(t *testing.T, url, host string, headers ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Host = host
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// TestScarfREADMEGettingStarted follows Scarf Gateway's README: its
// manifest, its command line, and "docker pull localhost:8081/hello-world",
// here with go-containerregistry as the client and a local registry in
// place of Docker Hub. The pull is answered as it is for the manifest's
// domain.
func TestScarfREADMEGettingStarted(t *testing.T) {
	reg, transport, digest := hubStandIn(t)
	addr, stdout, stderr := startDropIn(t, strings.Replace(scarfREADMEManifest, "REGISTRY", reg, 1))
	_, port, _ := net.SplitHostPort(addr)

	ref, err := name.ParseReference("localhost:" + port + "/hello-world")
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(ref, remote.WithTransport(transport), remote.WithUserAgent("docker/27.3.1"))
	if err != nil {
		t.Fatalf("pull localhost:%s/hello-world: %v", port, err)
	}
	if d, err := img.Digest(); err != nil || d.String() != digest {
		t.Fatalf("pulled digest %v, %v; want %s", d, err, digest)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %v, %v", layers, err)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, rc); err != nil {
		t.Fatalf("reading the layer: %v", err)
	}
	rc.Close()

	waitFor(t, "the pull's event", 30*time.Second, func() bool { return strings.Contains(stdout.String(), `"pull":true`) })
	g := &gateway{stdout: stdout}
	pulls := 0
	for _, e := range g.events(t) {
		d, _ := e["docker"].(map[string]any)
		if e["domain"] != "testorg.docker.scarf.sh" || e["requested_host"] != "localhost" || d == nil || d["object"] != "ping" && d["image"] != "library/hello-world" {
			t.Errorf("event %v", e)
		}
		if d != nil && d["pull"] == true && e["requested_host"] == "localhost" {
			pulls++
		}
	}
	if pulls != 1 {
		t.Errorf("%d pulls recorded for localhost, want 1", pulls)
	}
	// The same answer as for the manifest's own domain.
	for _, path := range []string{"/v2/", "/v2/hello-world/manifests/latest"} {
		asked, _ := fetchBody(t, "http://"+addr+path, "localhost:"+port, "User-Agent", "docker/27.3.1")
		own, _ := fetchBody(t, "http://"+addr+path, "testorg.docker.scarf.sh", "User-Agent", "docker/27.3.1")
		if asked.StatusCode != own.StatusCode || asked.Header.Get("Location") != own.Header.Get("Location") || asked.StatusCode != 307 {
			t.Errorf("%s: for localhost %d %q, for testorg.docker.scarf.sh %d %q", path, asked.StatusCode, asked.Header.Get("Location"), own.StatusCode, own.Header.Get("Location"))
		}
	}

	if !strings.Contains(stderr.String(), "default domain: the manifest's only domain answers every host") {
		t.Errorf("the start-up log does not name the default domain:\n%s", stderr)
	}
}

// TestScarfREADMEDockerPull follows Scarf Gateway's README to the letter
// with the real docker: its manifest, with the stand-in for Docker Hub
// in place of registry-1.docker.io, "portico --manifest
// ./my-manifest.json", and "docker pull localhost:PORT/hello-world"
// through a dockerd of the test's own, which takes localhost for an
// insecure registry. dockerd reaches the stand-in under Docker Hub's
// name through a forward proxy that is the stand-in itself, so nothing
// leaves the machine. The pull gets the stand-in's image and is recorded
// for the manifest's domain, asked for as localhost.
func TestScarfREADMEDockerPull(t *testing.T) {
	reg, _, digest := hubStandIn(t)
	_, regPort, _ := net.SplitHostPort(strings.TrimPrefix(reg, "http://"))
	d := dockertest.StartDockerd(t, dockertest.DockerdOptions{Proxy: "http://127.0.0.1:" + regPort})
	addr, stdout, _ := startDropIn(t, strings.Replace(scarfREADMEManifest, "REGISTRY", reg, 1))
	_, port, _ := net.SplitHostPort(addr)

	got, err := d.Pull(t, "localhost:"+port+"/hello-world")
	if err != nil {
		t.Fatalf("docker pull localhost:%s/hello-world: %v", port, err)
	}
	if got != digest {
		t.Errorf("docker pulled %s, want the registry's %s", got, digest)
	}
	waitFor(t, "the pull's event", 30*time.Second, func() bool { return strings.Contains(stdout.String(), `"pull":true`) })
	pulls := 0
	for _, e := range (&gateway{stdout: stdout}).events(t) {
		dk, _ := e["docker"].(map[string]any)
		if e["domain"] != "testorg.docker.scarf.sh" || e["requested_host"] != "localhost" || dk == nil {
			t.Errorf("event %v, want one of testorg.docker.scarf.sh asked for as localhost", e)
			continue
		}
		if dk["pull"] == true {
			pulls++
			if dk["image"] != "library/hello-world" {
				t.Errorf("pull event %v, want library/hello-world", e)
			}
		}
	}
	if pulls != 1 {
		t.Errorf("%d pulls recorded, want 1", pulls)
	}
}

// TestScarfREADMETwoDomains: with a second domain in the manifest there is
// no default; the pull is a 404 that says which host was asked for, and
// the start-up log says once that there is no default and names the
// domains.
func TestScarfREADMETwoDomains(t *testing.T) {
	reg, transport, _ := hubStandIn(t)
	m := strings.Replace(scarfREADMEManifest, "REGISTRY", reg, 1)
	m = strings.Replace(m, `"type": "docker-v1"
        }`, `"type": "docker-v1"
        },
        {"type": "file-v1", "domain": "get.example.org", "incoming-path": "/x", "outgoing-url": "https://dl.example.org/x", "package-id": "p"}`, 1)
	addr, stdout, stderr := startDropIn(t, m)
	_, port, _ := net.SplitHostPort(addr)

	ref, _ := name.ParseReference("localhost:" + port + "/hello-world")
	if _, err := remote.Image(ref, remote.WithTransport(transport), remote.WithUserAgent("docker/27.3.1")); err == nil {
		t.Fatal("pull from localhost succeeded with two domains and no default")
	}
	for _, path := range []string{"/v2/", "/v2/hello-world/manifests/latest"} {
		resp, body := fetchBody(t, "http://"+addr+path, "localhost:"+port, "User-Agent", "docker/27.3.1")
		if resp.StatusCode != 404 || !strings.Contains(body, `"code":"NAME_UNKNOWN"`) || !strings.Contains(body, `no domain of this gateway matches the host \"localhost\"`) {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
	if resp, _ := fetchBody(t, "http://"+addr+"/v2/library/hello-world/manifests/latest", "testorg.docker.scarf.sh", "User-Agent", "docker/27.3.1"); resp.StatusCode != 307 {
		t.Errorf("the manifest's domain: %d", resp.StatusCode)
	}
	log := stderr.String()
	if n := strings.Count(log, "no default domain"); n != 1 || !strings.Contains(log, "get.example.org, testorg.docker.scarf.sh") {
		t.Errorf("start-up log: %d lines about the default, want 1 naming both domains:\n%s", n, log)
	}
	for _, e := range (&gateway{stdout: stdout}).events(t) {
		if e["requested_host"] != nil {
			t.Errorf("event for an unknown host: %v", e)
		}
	}
}

const defaultManifest = `{"rules":[
 {"type":"file-v1","domain":"f.test","incoming-path":"/dl/{file}","outgoing-url":"https://files.example/{file}","package-id":"p-file"},
 {"type":"python-v1","domain":"f.test","package-name":"rocket-skates","file-name":"rocket_skates-1.0.tar.gz","version":"1.0","backend-url":"https://files.example/rocket_skates-1.0.tar.gz","package-id":"p-py"},
 {"type":"file-v1","domain":"other.test","incoming-path":"/dl/{file}","outgoing-url":"https://other.example/{file}","package-id":"p-other"}]}`

// TestDefaultDomainFlag: --default-domain serves unknown hosts with the
// rules of the domain it names, file and python rules alike; a configured
// domain still answers for itself; invalid hosts are still refused.
func TestDefaultDomainFlag(t *testing.T) {
	g := start(t, defaultManifest, "--default-domain", "F.test")
	if resp := get(t, "http://"+g.addr+"/dl/a.tgz", "localhost:8081"); resp.StatusCode != 307 || resp.Header.Get("Location") != "https://files.example/a.tgz" {
		t.Errorf("file rule: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := get(t, "http://"+g.addr+"/dl/a.tgz", "other.test"); resp.Header.Get("Location") != "https://other.example/a.tgz" {
		t.Errorf("configured domain: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := fetchBody(t, "http://"+g.addr+"/simple/rocket-skates/", "localhost")
	if resp.StatusCode != 200 || !strings.Contains(body, "rocket_skates-1.0.tar.gz") {
		t.Errorf("python index: %d\n%s", resp.StatusCode, body)
	}
	if resp := get(t, "http://"+g.addr+"/simple/rocket-skates/rocket_skates-1.0.tar.gz", "localhost"); resp.StatusCode != 307 || resp.Header.Get("Location") != "https://files.example/rocket_skates-1.0.tar.gz" {
		t.Errorf("python file: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := get(t, "http://"+g.addr+"/dl/a.tgz", "localhost:8081;evil"); resp.StatusCode != 400 {
		t.Errorf("invalid host: %d, want 400", resp.StatusCode)
	}
	resp, body = fetchBody(t, "http://"+g.opsAddr+"/readyz", "")
	if resp.StatusCode != 200 || !strings.Contains(body, "default domain: f.test") {
		t.Errorf("/readyz: %d\n%s", resp.StatusCode, body)
	}
	waitFor(t, "events", 30*time.Second, func() bool { return strings.Count(g.stdout.String(), "\n") >= 4 })
	kinds := map[string]int{}
	for _, e := range g.events(t) {
		switch {
		case e["domain"] == "f.test" && e["requested_host"] == "localhost":
			kinds[e["kind"].(string)]++
		case e["domain"] == "other.test" && e["requested_host"] == nil:
			kinds["other"]++
		default:
			t.Errorf("event %v", e)
		}
	}
	if kinds["file"] != 1 || kinds["python"] != 2 || kinds["other"] != 1 {
		t.Errorf("events by kind %v", kinds)
	}
}

// TestDefaultDomainNone: "none" keeps the 404 for unknown hosts, even with
// Scarf's command line and a single domain.
func TestDefaultDomainNone(t *testing.T) {
	g := start(t, telemetryManifest)
	resp, body := fetchBody(t, "http://"+g.addr+"/dl/y", "localhost", "Accept", "application/json")
	if resp.StatusCode != 404 || !strings.Contains(body, `no domain of this gateway matches the host \"localhost\"`) {
		t.Errorf("serve: %d %s", resp.StatusCode, body)
	}
	if _, body := fetchBody(t, "http://"+g.opsAddr+"/readyz", ""); strings.Contains(body, "default domain") {
		t.Errorf("/readyz names a default domain:\n%s", body)
	}

	path := filepath.Join(t.TempDir(), "m.json")
	os.WriteFile(path, []byte(telemetryManifest), 0o644)
	addr := freeAddr(t)
	cmd := exec.Command(bin, "--manifest", path, "--default-domain", "none", "--listen", addr, "--ops-listen", "off")
	stderr := &testenv.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	defer func() { _ = cmd.Process.Kill(); <-done }()
	if !waitListening(addr, done) {
		t.Fatalf("portico did not start listening:\n%s", stderr)
	}
	if resp := get(t, "http://"+addr+"/dl/y", "localhost"); resp.StatusCode != 404 {
		t.Errorf("drop-in with --default-domain none: %d, want 404", resp.StatusCode)
	}
	if resp := get(t, "http://"+addr+"/dl/y", "t.test"); resp.StatusCode != 307 {
		t.Errorf("drop-in, own domain: %d, want 307", resp.StatusCode)
	}
}

// TestDefaultDomainUnknown: a --default-domain the manifest does not name
// stops the start with an error naming the manifest's domains; one that
// is not a host name is a usage error.
func TestDefaultDomainUnknown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.json")
	os.WriteFile(path, []byte(defaultManifest), 0o644)
	out, err := exec.Command(bin, "serve", "--manifest", path, "--default-domain", "typo.test", "--listen", freeAddr(t), "--ops-listen", "off").CombinedOutput()
	if code := exitCode(err); code != 1 || !strings.Contains(string(out), "--default-domain typo.test: the manifest has no rule for this domain (its domains: f.test, other.test)") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	out, err = exec.Command(bin, "serve", "--manifest", path, "--default-domain", "a b", "--listen", freeAddr(t), "--ops-listen", "off").CombinedOutput()
	if code := exitCode(err); code != 2 || !strings.Contains(string(out), "--default-domain: invalid host") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

// TestDefaultDomainFlagNPM: --default-domain with an npm rule. A host no
// domain names gets the npm domain's documents, with tarball URLs that
// lead back to the host the client asked for, and its tarball redirects;
// the events are the npm domain's, asked for as that host. A configured
// domain still answers for itself.
func TestDefaultDomainFlagNPM(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/rocket" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"name":"rocket","dist-tags":{"latest":"1.0.0"},"versions":{"1.0.0":{"name":"rocket","version":"1.0.0","dist":{"tarball":"http://`+r.Host+`/rocket/-/rocket-1.0.0.tgz"}}}}`)
	}))
	t.Cleanup(upstream.Close)
	g := start(t, `{"rules":[
 {"type":"npm-v1","domain":"npm.test","package-name":"rocket","package-id":"p-npm","registry":"`+upstream.URL+`/"},
 {"type":"file-v1","domain":"other.test","incoming-path":"/dl/{file}","outgoing-url":"https://other.example/{file}","package-id":"p-other"}]}`,
		"--default-domain", "npm.test")

	resp, body := fetchBody(t, "http://"+g.addr+"/rocket", "LocalHost:8081")
	var doc struct {
		Versions map[string]struct {
			Dist struct{ Tarball string }
		}
	}
	if err := json.Unmarshal([]byte(body), &doc); resp.StatusCode != 200 || err != nil || len(doc.Versions) != 1 {
		t.Fatalf("packument: %d %v\n%s", resp.StatusCode, err, body)
	}
	if tb := doc.Versions["1.0.0"].Dist.Tarball; tb != "http://localhost:8081/rocket/-/rocket-1.0.0.tgz" {
		t.Errorf("tarball URL %q, want it on the host asked for", tb)
	}
	if resp := get(t, "http://"+g.addr+"/rocket/-/rocket-1.0.0.tgz", "localhost:8081"); resp.StatusCode != 307 || resp.Header.Get("Location") != upstream.URL+"/rocket/-/rocket-1.0.0.tgz" {
		t.Errorf("tarball: %d %q, want a redirect to the registry's tarball", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := get(t, "http://"+g.addr+"/dl/a.tgz", "other.test"); resp.StatusCode != 307 || resp.Header.Get("Location") != "https://other.example/a.tgz" {
		t.Errorf("configured domain: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	waitFor(t, "events", 30*time.Second, func() bool { return strings.Count(g.stdout.String(), "\n") >= 3 })
	var got []string
	for _, e := range g.events(t) {
		npm, _ := e["npm"].(map[string]any)
		object, _ := npm["object"].(string)
		rh, _ := e["requested_host"].(string)
		got = append(got, fmt.Sprintf("%s %s %s %s", e["domain"], rh, e["kind"], object))
	}
	want := []string{"npm.test localhost npm packument", "npm.test localhost npm tarball", "other.test  file "}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("events %q, want %q", got, want)
	}
}

// TestUnknownHostLog: a request for a host no domain names is logged at
// debug level with the canonical host asked for and the path, and not at
// the default level; with a default domain it is no longer unknown.
func TestUnknownHostLog(t *testing.T) {
	const line = `level=DEBUG msg="no domain matches the request's host" host=localhost path=/dl/y`
	for _, c := range []struct {
		args   []string
		status int
		logged bool
	}{
		{[]string{"--log-level", "debug"}, 404, true},
		{nil, 404, false},
		{[]string{"--log-level", "debug", "--default-domain", "t.test"}, 307, false},
	} {
		g := start(t, telemetryManifest, c.args...)
		if resp := get(t, "http://"+g.addr+"/dl/y", "LOCALHOST.:8081"); resp.StatusCode != c.status {
			t.Errorf("%q: status %d, want %d", c.args, resp.StatusCode, c.status)
		}
		if resp := get(t, "http://"+g.addr+"/dl/y", "t.test"); resp.StatusCode != 307 {
			t.Errorf("%q: the manifest's domain: status %d", c.args, resp.StatusCode)
		}
		if c.logged {
			waitFor(t, "the debug line", 10*time.Second, func() bool { return strings.Contains(g.stderr.String(), line) })
		}
		log := g.stderr.String()
		if n := strings.Count(log, "no domain matches"); c.logged && n != 1 || !c.logged && n != 0 {
			t.Errorf("%q: %d lines about the unknown host, want %v:\n%s", c.args, n, c.logged, log)
		}
	}
}

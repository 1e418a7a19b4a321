package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"portico/internal/testenv"
)

// bin is the portico binary built once for these tests.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "portico-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "portico")
	// The gateways of these tests keep no analytics store, so they leave
	// nothing in the package directory; analytics_test.go passes --data.
	os.Setenv("PORTICO_DATA", "none")
	// Those that keep one get an app listener: on a free port, so that
	// they can run side by side.
	os.Setenv("PORTICO_APP_LISTEN", "127.0.0.1:0")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building portico: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type gateway struct {
	cmd            *exec.Cmd
	addr, opsAddr  string
	stdout, stderr *testenv.Buffer
	done           chan error
}

func start(t *testing.T, manifest string, args ...string) *gateway {
	t.Helper()
	path := filepath.Join(t.TempDir(), "manifest.json")
	if err := os.WriteFile(path, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	// freeAddr's ports are free when it looks, but another test process
	// may bind one before the gateway does: then the gateway exits, and
	// it starts again on other ports.
	for attempt := 1; ; attempt++ {
		g, err := startOn(t, path, args)
		if err == nil {
			return g
		}
		if !strings.Contains(g.stderr.String(), "address already in use") || attempt == 5 {
			t.Fatalf("portico did not start listening: %v\n%s", err, g.stderr)
		}
	}
}

// startOn starts the gateway on free ports and waits until it listens,
// or exits, or 15 seconds pass.
func startOn(t *testing.T, path string, args []string) (*gateway, error) {
	t.Helper()
	g := &gateway{addr: freeAddr(t), opsAddr: freeAddr(t), stdout: &testenv.Buffer{}, stderr: &testenv.Buffer{}, done: make(chan error, 1)}
	all := append([]string{"serve", "--manifest", path, "--listen", g.addr, "--ops-listen", g.opsAddr}, args...)
	g.cmd = exec.Command(bin, all...)
	g.cmd.Stdout, g.cmd.Stderr = g.stdout, g.stderr
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { g.done <- g.cmd.Wait() }()
	t.Cleanup(func() {
		_ = g.cmd.Process.Kill()
		<-g.done
		if t.Failed() {
			t.Logf("stderr:\n%s\nstdout:\n%s", g.stderr, g.stdout)
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err := net.Dial("tcp", g.addr); err == nil {
			c.Close()
			return g, nil
		}
		select {
		case err := <-g.done:
			g.done <- err // for the cleanup and wait
			return g, fmt.Errorf("exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			return g, errors.New("not listening after 15s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (g *gateway) manifestPath() string { return g.cmd.Args[3] }

func (g *gateway) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-g.done:
		g.done <- err
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("portico did not exit")
		return nil
	}
}

func (g *gateway) events(t *testing.T) []map[string]any {
	t.Helper()
	var evs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(g.stdout.String()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("stdout line is not JSON: %q", sc.Text())
		}
		evs = append(evs, m)
	}
	return evs
}

var noRedirect = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       10 * time.Second,
}

func get(t *testing.T, url, host string, headers ...string) *http.Response {
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
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

const telemetryManifest = `{"rules":[
 {"type":"telemetry-v1","domain":"t.test","incoming-path":"/events","package-id":"tel"},
 {"type":"file-v1","domain":"t.test","incoming-path":"/dl/{f}","outgoing-url":"https://files.test/{f}","package-id":"dl"}]}`

// TestGracefulShutdown sends SIGTERM while a request is in flight: the
// request completes, its event is written, /readyz turns 503 at once, new
// connections are refused, and the process exits 0.
func TestGracefulShutdown(t *testing.T) {
	g := start(t, telemetryManifest)
	conn, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"phase":"in-flight"}`
	fmt.Fprintf(conn, "POST /events HTTP/1.1\r\nHost: t.test\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:5])
	time.Sleep(200 * time.Millisecond) // the server is now reading the body

	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + g.opsAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("/readyz did not turn 503 after SIGTERM")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if c, err := net.DialTimeout("tcp", g.addr, time.Second); err == nil {
		c.Close()
		t.Error("the gateway accepted a new connection after SIGTERM")
	}
	fmt.Fprint(conn, body[5:])
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("in-flight request: status %d, want 200", resp.StatusCode)
	}
	conn.Close()
	if err := g.wait(t); err != nil {
		t.Fatalf("exit: %v, want status 0", err)
	}
	evs := g.events(t)
	if len(evs) != 1 || evs[0]["kind"] != "telemetry" || !strings.Contains(fmt.Sprint(evs[0]["payload"]), "in-flight") {
		t.Fatalf("events after shutdown = %v, want the in-flight request's telemetry event", evs)
	}
}

func TestSIGHUPReload(t *testing.T) {
	g := start(t, telemetryManifest, "--reload-interval", "0")
	if resp := get(t, "http://"+g.addr+"/dl/x", "t.test"); resp.Header.Get("Location") != "https://files.test/x" {
		t.Fatalf("Location = %q", resp.Header.Get("Location"))
	}
	next := strings.ReplaceAll(telemetryManifest, "files.test", "mirror.test")
	if err := os.WriteFile(g.manifestPath(), []byte(next), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := g.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for get(t, "http://"+g.addr+"/dl/x", "t.test").Header.Get("Location") != "https://mirror.test/x" {
		if time.Now().After(deadline) {
			t.Fatal("SIGHUP did not reload the manifest")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A broken version is rejected: the old one keeps serving and
	// /readyz says why.
	if err := os.WriteFile(g.manifestPath(), []byte(`{"rules":[{"type":"nope"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = g.cmd.Process.Signal(syscall.SIGHUP)
	deadline = time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + g.opsAddr + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), `unknown rule type "nope"`) {
			if resp.StatusCode != http.StatusOK {
				t.Errorf("/readyz = %d after a rejected reload, want 200: the previous version still serves", resp.StatusCode)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz does not report the rejected manifest:\n%s", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := get(t, "http://"+g.addr+"/dl/x", "t.test").Header.Get("Location"); got != "https://mirror.test/x" {
		t.Errorf("after a rejected reload, Location = %q, want the previous version's", got)
	}
	resp, err := http.Get("http://" + g.opsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`portico_config_reloads_total{result="error"} 1`, "portico_config_generation 2", `portico_requests_total{kind="file",outcome="redirect",status="307"}`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestClientAddressNeverWritten routes requests from a client address
// (given by a trusted proxy) through every kind of answer and requires
// that the address appears in no event, no log or access log line, and
// no trace exported to an OTLP receiver.
func TestClientAddressNeverWritten(t *testing.T) {
	var mu sync.Mutex
	var exported bytes.Buffer
	otlp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		exported.Write(b)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer otlp.Close()
	g := start(t, telemetryManifest, "--log-level", "debug", "--access-log", "--otlp-endpoint", otlp.URL)
	const client = "203.0.113.77"
	get(t, "http://"+g.addr+"/dl/x", "t.test", "X-Forwarded-For", client)
	get(t, "http://"+g.addr+"/nothing", "t.test", "X-Forwarded-For", client)
	get(t, "http://"+g.addr+"/dl/x", "unknown.test", "X-Forwarded-For", client)
	req, _ := http.NewRequest("POST", "http://"+g.addr+"/events", strings.NewReader(`{"a":1}`))
	req.Host = "t.test"
	req.Header.Set("X-Forwarded-For", client)
	if resp, err := noRedirect.Do(req); err == nil {
		resp.Body.Close()
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	if err := g.wait(t); err != nil {
		t.Fatal(err)
	}
	if n := len(g.events(t)); n != 2 {
		t.Errorf("%d events, want 2 (the redirect and the telemetry post)", n)
	}
	if n := strings.Count(g.stderr.String(), "msg=request "); n != 4 {
		t.Errorf("%d access lines, want 4:\n%s", n, g.stderr)
	}
	mu.Lock()
	traces := exported.String()
	mu.Unlock()
	if !strings.Contains(traces, "portico") || !strings.Contains(traces, "/dl/x") {
		t.Errorf("no trace of the requests reached the OTLP receiver (%d bytes)", len(traces))
	}
	for name, out := range map[string]string{"stdout": g.stdout.String(), "stderr": g.stderr.String(), "the exported traces": traces} {
		if strings.Contains(out, client) {
			t.Errorf("%s contains the client address %s:\n%s", name, client, out)
		}
	}
}

func TestDropInCommandLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.json")
	os.WriteFile(path, []byte(telemetryManifest), 0o644)
	addr := freeAddr(t)
	cmd := exec.Command(bin, "--manifest", path, "--listen", addr, "--ops-listen", "off")
	var stderr testenv.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if resp, err := noRedirect.Do(&http.Request{Method: "GET", URL: mustURL("http://" + addr + "/dl/y"), Host: "t.test"}); err == nil {
			resp.Body.Close()
			if resp.Header.Get("Location") != "https://files.test/y" {
				t.Fatalf("Location = %q", resp.Header.Get("Location"))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("portico --manifest did not serve:\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServeRefusesBadManifest(t *testing.T) {
	cmd := exec.Command(bin, "serve", "--manifest", "testdata/check-bad.json", "--listen", freeAddr(t), "--ops-listen", "off")
	out, err := cmd.CombinedOutput()
	if code := exitCode(err); code != 1 {
		t.Fatalf("exit code %d, want 1\n%s", code, out)
	}
	if !strings.Contains(string(out), "rules[0] (file-v1): incoming-path: unclosed '{' at column 12") {
		t.Errorf("output does not list the problems:\n%s", out)
	}
}

func TestCheck(t *testing.T) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "check", "--manifest", "testdata/check-bad.json")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if code := exitCode(cmd.Run()); code != 1 {
		t.Fatalf("check of a bad manifest: exit %d, want 1", code)
	}
	want, _ := os.ReadFile("testdata/check-bad.golden")
	if stderr.String() != string(want) {
		t.Errorf("check output:\n%s\nwant (testdata/check-bad.golden):\n%s", stderr.String(), want)
	}
	out, err := exec.Command(bin, "check", "--manifest", "../../examples/manifest.json").CombinedOutput()
	if err != nil || !strings.Contains(string(out), ": ok (") {
		t.Errorf("check of examples/manifest.json: %v\n%s", err, out)
	}
}

func TestHelpAndVersion(t *testing.T) {
	out, err := exec.Command(bin, "help").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"serve", "check", "version", "help"} {
		if !strings.Contains(string(out), "  "+c+" ") {
			t.Errorf("help does not list %q:\n%s", c, out)
		}
	}
	out, err = exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "portico ") {
		t.Errorf("version: %v %q", err, out)
	}
	if code := exitCode(exec.Command(bin, "frobnicate").Run()); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
	out, _ = exec.Command(bin, "help", "serve").CombinedOutput()
	for _, flag := range []string{"-listen", "-ops-listen", "-trusted-proxies", "-events", "PORTICO_LISTEN"} {
		if !strings.Contains(string(out), flag) {
			t.Errorf("help serve does not mention %s", flag)
		}
	}
}

// TestVersion checks "portico version" on the binary of TestMain, built
// however the environment builds (CI passes -buildvcs=false), and on one
// built as releases are, with the version and commit set by the linker.
func TestVersion(t *testing.T) {
	out, err := exec.Command(bin, "version").Output()
	lines := strings.Split(string(out), "\n")
	if err != nil || len(lines) != 5 || !strings.HasPrefix(lines[0], "portico ") || len(lines[0]) == len("portico ") ||
		!strings.HasPrefix(lines[1], "commit: ") || !strings.HasPrefix(lines[3], "built with: go") {
		t.Fatalf("version: %v\n%s", err, out)
	}

	release := filepath.Join(t.TempDir(), "portico")
	const commit = "0123456789abcdef0123456789abcdef01234567"
	ldflags := "-X portico/internal/buildinfo.version=v1.2.3 -X portico/internal/buildinfo.commit=" + commit +
		" -X portico/internal/buildinfo.date=2026-12-01T10:00:00Z"
	build := exec.Command("go", "build", "-buildvcs=false", "-ldflags", ldflags, "-o", release, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err = exec.Command(release, "version").Output()
	want := "portico v1.2.3\ncommit: " + commit + "\ncommit time: 2026-12-01T10:00:00Z\n"
	if err != nil || !strings.HasPrefix(string(out), want) {
		t.Errorf("release version: %v\n%s\nwant it to start with\n%s", err, out, want)
	}
	if out, err := exec.Command(release, "version", "extra").CombinedOutput(); exitCode(err) != 2 || !strings.Contains(string(out), "takes no arguments") {
		t.Errorf("version with an argument: %v\n%s", err, out)
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// TestEventConsumerGone closes the reading end of the gateway's stdout, as
// when "portico serve | consumer" loses its consumer: the gateway keeps
// serving, and counts the events it could not write.
func TestEventConsumerGone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.json")
	os.WriteFile(path, []byte(telemetryManifest), 0o644)
	addr, opsAddr := freeAddr(t), freeAddr(t)
	cmd := exec.Command(bin, "serve", "--manifest", path, "--listen", addr, "--ops-listen", opsAddr)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr testenv.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("portico did not start:\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	get(t, "http://"+addr+"/dl/a", "t.test")
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.Contains(line, `"kind":"file"`) {
		t.Fatalf("first event line = %q, %v", line, err)
	}
	stdout.Close()
	for i := range 20 {
		resp := get(t, "http://"+addr+"/dl/b", "t.test")
		if resp.StatusCode != http.StatusTemporaryRedirect {
			t.Fatalf("request %d after the consumer left: status %d", i, resp.StatusCode)
		}
		time.Sleep(5 * time.Millisecond)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + opsAddr + "/metrics")
		if err != nil {
			t.Fatalf("the gateway died when its event consumer left: %v\n%s", err, stderr.String())
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "portico_events_sink_failures_total") && !strings.Contains(string(b), "portico_events_sink_failures_total 0\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sink failures were not counted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := strings.Count(stderr.String(), "writing events"); n > 1 {
		t.Errorf("the sink failure was logged %d times within seconds, want at most once", n)
	}
}

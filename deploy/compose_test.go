package deploy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"portico/internal/testenv"
)

var replicas = []string{"portico-1", "portico-2", "portico-3"}

// TestCompose has docker-compose check the compose file and expand it,
// then checks the expansion: three replicas of one image on one database,
// each with a spool volume of its own, locked down, behind nginx, which
// is the only proxy they believe.
func TestCompose(t *testing.T) {
	dc := testenv.LookPath(t, "docker-compose")
	config := func(env ...string) (string, error) {
		cmd := exec.Command(dc, "-f", "compose/compose.yaml", "config")
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := config("POSTGRES_PASSWORD="); err == nil || !strings.Contains(out, "set POSTGRES_PASSWORD") {
		t.Errorf("compose config without a password: %v\n%s", err, out)
	}
	out, err := config("POSTGRES_PASSWORD=pw-from-env", "PORTICO_IMAGE=")
	if err != nil {
		t.Fatalf("docker-compose config: %v\n%s", err, out)
	}
	var c struct {
		Services map[string]struct {
			Image       string
			Command     []string
			Environment map[string]string
			Volumes     []string // short syntax, as docker-compose writes them
			ReadOnly    bool     `json:"read_only"`
			Tmpfs       []string `json:"tmpfs"`
			CapDrop     []string `json:"cap_drop"`
			Networks    map[string]*struct {
				IPv4Address string `json:"ipv4_address"`
			}
		}
	}
	if err := yaml.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("compose config output: %v\n%s", err, out)
	}
	nginx, ok := c.Services["nginx"]
	if !ok || nginx.Networks["portico"] == nil {
		t.Fatalf("no nginx on the portico network: %+v", nginx)
	}
	lb, err := netip.ParseAddr(nginx.Networks["portico"].IPv4Address)
	if err != nil {
		t.Fatalf("nginx has no fixed address: %v", err)
	}
	spools := map[string]bool{}
	for _, name := range replicas {
		s, ok := c.Services[name]
		if !ok {
			t.Errorf("no service %s", name)
			continue
		}
		if s.Image != "portico" {
			t.Errorf("%s runs image %q, want portico", name, s.Image)
		}
		if s.Environment["PORTICO_DATABASE"] != "postgres://portico:pw-from-env@postgres:5432/portico?sslmode=disable" {
			t.Errorf("%s: PORTICO_DATABASE = %q: want the password from the environment", name, s.Environment["PORTICO_DATABASE"])
		}
		if !s.ReadOnly || !slices.Contains(s.Tmpfs, "/tmp") || !slices.Equal(s.CapDrop, []string{"ALL"}) {
			t.Errorf("%s: read_only %v, tmpfs %v, cap_drop %v", name, s.ReadOnly, s.Tmpfs, s.CapDrop)
		}
		if !slices.Contains(s.Command, "--token-key-file") {
			t.Errorf("%s does not share the token key: %q", name, s.Command)
		}
		var spool string
		for _, v := range s.Volumes {
			// A named volume's source is a name, not a path.
			if src, rest, _ := strings.Cut(v, ":"); strings.HasPrefix(rest, "/data:") && !strings.ContainsAny(src, "/.") {
				spool = src
			}
		}
		if spool == "" || spools[spool] {
			t.Errorf("%s: spool volume %q: want one of its own at /data", name, spool)
		}
		spools[spool] = true
		trusted := false
		for p := range strings.SplitSeq(s.Environment["PORTICO_TRUSTED_PROXIES"], ",") {
			if pfx, err := netip.ParsePrefix(p); err == nil && pfx.Contains(lb) && pfx.Bits() == 32 {
				trusted = true
			}
		}
		if !trusted {
			t.Errorf("%s trusts %q, want nginx's address %s alone", name, s.Environment["PORTICO_TRUSTED_PROXIES"], lb)
		}
	}

	// nginx balances over exactly these replicas, on both listeners.
	conf, err := os.ReadFile("compose/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	servers := regexp.MustCompile(`(?m)^\s*server\s+([\w.-]+):(\d+)`).FindAllStringSubmatch(string(conf), -1)
	got := map[string][]string{}
	for _, m := range servers {
		got[m[2]] = append(got[m[2]], m[1])
	}
	for _, port := range []string{"8081", "8080"} {
		if !slices.Equal(got[port], replicas) {
			t.Errorf("nginx's upstream on port %s is %v, want %v", port, got[port], replicas)
		}
	}
}

// TestNginx runs compose/nginx.conf with nginx in front of three gateways
// on loopback (the replicas' names and ports replaced by theirs), and
// checks that the requests are routed by the client's host and spread
// over the three.
func TestNginx(t *testing.T) {
	nginx := testenv.LookPath(t, "nginx")
	conf, err := os.ReadFile("compose/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	type gateway struct {
		port   string
		events *strings.Builder
		mu     *sync.Mutex
	}
	var gws []gateway
	text := string(conf)
	for _, name := range replicas {
		gw := gateway{port: freePort(t), events: &strings.Builder{}, mu: &sync.Mutex{}}
		gws = append(gws, gw)
		text = strings.ReplaceAll(text, name+":8081", "127.0.0.1:"+gw.port)
		text = strings.ReplaceAll(text, name+":8080", "127.0.0.1:"+freePort(t))
		startGateway(t, gw.port, gw.events, gw.mu)
	}
	front := freePort(t)
	text = strings.Replace(text, "listen 8081;", "listen 127.0.0.1:"+front+";", 1)
	text = strings.Replace(text, "listen 8080;", "listen 127.0.0.1:"+freePort(t)+";", 1)
	if strings.Contains(text, "portico-") {
		t.Fatalf("a replica's name is left in the configuration:\n%s", text)
	}
	path := filepath.Join(dir, "nginx.conf")
	os.WriteFile(path, []byte(text), 0o644)
	args := []string{"-p", dir, "-c", path, "-g", "pid " + filepath.Join(dir, "nginx.pid") + "; error_log " + filepath.Join(dir, "error.log") + ";"}
	if out, err := exec.Command(nginx, append(args, "-t")...).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	cmd := exec.Command(nginx, append(args, "-g", "daemon off;")...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })

	const want = "https://github.com/acme/rocket-skates/releases/download/v1.2.0/rocket-skates-linux.tar.gz"
	waitListening(t, "127.0.0.1:"+front)
	for range 9 {
		req, _ := http.NewRequest("GET", "http://127.0.0.1:"+front+"/v1.2.0/linux/rocket-skates.tar.gz", nil)
		req.Host = "get.acme.example"
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != want {
			t.Fatalf("through nginx: %s, Location %q; want 307 to %s", resp.Status, resp.Header.Get("Location"), want)
		}
	}
	// Each gateway recorded its share, for the host the client asked for.
	deadline := time.Now().Add(5 * time.Second)
	for i, gw := range gws {
		for {
			gw.mu.Lock()
			ev := gw.events.String()
			gw.mu.Unlock()
			n := strings.Count(ev, `"domain":"get.acme.example"`)
			if n >= 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("gateway %d served none of the 9 requests; events:\n%s", i+1, ev)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// startGateway runs the test binary on the example manifest, trusting the
// loopback proxy, and collects its events.
func startGateway(t *testing.T, port string, events *strings.Builder, mu *sync.Mutex) {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--manifest", "../examples/manifest.json", "--listen", "127.0.0.1:"+port,
		"--ops-listen", "off", "--data", "none", "--trusted-proxies", "127.0.0.1/32")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var e map[string]any
			if json.Unmarshal(sc.Bytes(), &e) == nil {
				mu.Lock()
				fmt.Fprintln(events, sc.Text())
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); <-done; cmd.Wait() })
	waitListening(t, "127.0.0.1:"+port)
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

package deploy

import (
	"archive/tar"
	"bufio"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"portico/internal/gateway/docker/dockertest"
)

// TestImage builds the container image the way CI can, from the static
// binary and deploy/docker/rootfs.sh (the Dockerfile's "prebuilt"
// target: the release target needs a Go base image from a registry),
// then runs it as an operator would: read-only, on a data volume.
func TestImage(t *testing.T) {
	d := dockertest.StartDockerd(t, dockertest.DockerdOptions{})
	root := filepath.Join(t.TempDir(), "rootfs")
	if out, err := exec.Command("docker/rootfs.sh", bin, root).CombinedOutput(); err != nil {
		t.Fatalf("rootfs.sh: %v\n%s", err, out)
	}
	const image = "portico:deploy-test"
	if out, err := d.Docker(t, 5*time.Minute, "build", "--target", "prebuilt", "-t", image, "-f", "../Dockerfile", root); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}

	out, err := d.Docker(t, time.Minute, "image", "inspect", "--format", "{{json .Config}}", image)
	if err != nil {
		t.Fatal(err)
	}
	var config struct {
		User         string
		Entrypoint   []string
		Cmd          []string
		Env          []string
		Volumes      map[string]struct{}
		ExposedPorts map[string]struct{}
	}
	if err := json.Unmarshal([]byte(out), &config); err != nil {
		t.Fatalf("image config: %v\n%s", err, out)
	}
	if config.User != "65532:65532" {
		t.Errorf("image user = %q, want 65532:65532", config.User)
	}
	if !slices.Equal(config.Entrypoint, []string{"/usr/local/bin/portico"}) || !slices.Equal(config.Cmd, []string{"serve"}) {
		t.Errorf("image entrypoint %q, cmd %q", config.Entrypoint, config.Cmd)
	}
	if _, ok := config.Volumes["/data"]; !ok || !slices.Contains(config.Env, "PORTICO_DATA=/data") {
		t.Errorf("image volumes %v, env %q: want the data directory /data on a volume", config.Volumes, config.Env)
	}
	for _, p := range []string{"8080/tcp", "8081/tcp", "8082/tcp"} {
		if _, ok := config.ExposedPorts[p]; !ok {
			t.Errorf("image does not expose %s: %v", p, config.ExposedPorts)
		}
	}
	checkImageFiles(t, d, image)

	out, err = d.Docker(t, time.Minute, "run", "--rm", "--network=none", image, "version")
	if err != nil || !strings.HasPrefix(out, "portico "+testVersion+"\ncommit: "+testCommit+"\n") {
		t.Errorf("portico version in the image: %v\n%s", err, out)
	}

	// Serve the example manifest on the host's network (this dockerd
	// makes no bridge), with the root file system read-only as the
	// Kubernetes chart runs it.
	gw, ops, app := freePort(t), freePort(t), freePort(t)
	examples, err := filepath.Abs("../examples")
	if err != nil {
		t.Fatal(err)
	}
	const name = "portico-deploy-test"
	out, err = d.Docker(t, time.Minute, "run", "-d", "--name", name, "--network=host",
		"--read-only", "--tmpfs", "/tmp", "-v", "portico-data:/data", "-v", examples+":/etc/portico:ro",
		"-e", "PORTICO_LISTEN=127.0.0.1:"+gw, "-e", "PORTICO_OPS_LISTEN=127.0.0.1:"+ops, "-e", "PORTICO_APP_LISTEN=127.0.0.1:"+app,
		image, "serve", "--manifest", "/etc/portico/manifest.json")
	if err != nil {
		t.Fatalf("docker run: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := d.Docker(t, time.Minute, "logs", name)
			t.Logf("container log:\n%s", logs)
		}
		_, _ = d.Docker(t, time.Minute, "rm", "-f", name)
	})
	waitOK(t, "http://127.0.0.1:"+ops+"/healthz")
	waitOK(t, "http://127.0.0.1:"+ops+"/readyz")

	req, _ := http.NewRequest("GET", "http://127.0.0.1:"+gw+"/v1.2.0/linux/rocket-skates.tar.gz", nil)
	req.Host = "get.acme.example"
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	const want = "https://github.com/acme/rocket-skates/releases/download/v1.2.0/rocket-skates-linux.tar.gz"
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != want {
		t.Errorf("download through the container: %s, Location %q; want 307 to %s", resp.Status, resp.Header.Get("Location"), want)
	}

	// SIGTERM stops it cleanly, and what it wrote on the volume belongs to
	// the image's unprivileged user.
	if out, err := d.Docker(t, time.Minute, "stop", "-t", "30", name); err != nil {
		t.Fatalf("docker stop: %v\n%s", err, out)
	}
	if out, _ := d.Docker(t, time.Minute, "inspect", "--format", "{{.State.ExitCode}}", name); strings.TrimSpace(out) != "0" {
		t.Errorf("exit status after SIGTERM: %s", out)
	}
	out, err = d.Docker(t, time.Minute, "volume", "inspect", "--format", "{{.Mountpoint}}", "portico-data")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(strings.TrimSpace(out), "portico.db"))
	if err != nil {
		t.Fatalf("the embedded store on the data volume: %v", err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65532 {
		t.Errorf("portico.db on the volume is owned by uid %d, want 65532", st.Uid)
	}
}

// checkImageFiles reads the image's file system: what runs, what it
// trusts, and who may write where.
func checkImageFiles(t *testing.T, d *dockertest.Dockerd, image string) {
	t.Helper()
	id, err := d.Docker(t, time.Minute, "create", image)
	if err != nil {
		t.Fatal(err)
	}
	id = strings.TrimSpace(id)
	defer d.Docker(t, time.Minute, "rm", id)
	export := filepath.Join(t.TempDir(), "fs.tar")
	if out, err := d.Docker(t, time.Minute, "export", "-o", export, id); err != nil {
		t.Fatalf("docker export: %v\n%s", err, out)
	}
	f, err := os.Open(export)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := map[string]*tar.Header{}
	var passwd string
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := "/" + strings.TrimSuffix(h.Name, "/")
		files[name] = h
		if name == "/etc/passwd" {
			b, _ := io.ReadAll(tr)
			passwd = string(b)
		}
	}
	check := func(name string, uid int, mode os.FileMode, minSize int64) {
		t.Helper()
		h, ok := files[name]
		switch {
		case !ok:
			t.Errorf("image has no %s", name)
		case h.Uid != uid || h.FileInfo().Mode() != mode || h.Size < minSize:
			t.Errorf("%s: uid %d, mode %v, %d bytes; want uid %d, mode %v", name, h.Uid, h.FileInfo().Mode(), h.Size, uid, mode)
		}
	}
	check("/usr/local/bin/portico", 0, 0o755, 1)
	check("/etc/ssl/certs/ca-certificates.crt", 0, 0o644, 1000)
	check("/etc/passwd", 0, 0o644, 1)
	check("/etc/group", 0, 0o644, 1)
	check("/data", 65532, os.ModeDir|0o755, 0)
	check("/tmp", 0, os.ModeDir|os.ModeSticky|0o777, 0)
	if !strings.Contains(passwd, "\nportico:x:65532:65532:") {
		t.Errorf("/etc/passwd has no entry for 65532:\n%s", passwd)
	}
	for name, h := range files {
		if h.Typeflag == tar.TypeReg && h.Uid != 0 {
			t.Errorf("%s belongs to uid %d: only /data may be the user's", name, h.Uid)
		}
	}
}

func waitOK(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v, %v", url, resp, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRootfsRefuses checks that rootfs.sh stops with a clear message,
// and writes nothing, on input it cannot use.
func TestRootfsRefuses(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "portico.txt")
	os.WriteFile(notExec, []byte("x"), 0o644)
	full := filepath.Join(dir, "full")
	os.MkdirAll(full, 0o755)
	os.WriteFile(filepath.Join(full, "f"), nil, 0o644)
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no arguments", nil, 2, "usage: rootfs.sh"},
		{"not executable", []string{notExec, filepath.Join(dir, "out1")}, 1, "is not an executable"},
		{"no CA bundle", []string{bin, filepath.Join(dir, "out2"), filepath.Join(dir, "none.crt")}, 1, "no CA bundle at"},
		{"directory not empty", []string{bin, full}, 1, "is not empty"},
	}
	for _, tt := range tests {
		out, err := exec.Command("docker/rootfs.sh", tt.args...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != tt.code || !strings.Contains(string(out), tt.msg) {
			t.Errorf("%s: %v\n%s\nwant exit %d and %q", tt.name, err, out, tt.code, tt.msg)
		}
	}
	for _, out := range []string{"out1", "out2"} {
		if _, err := os.Stat(filepath.Join(dir, out)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("rootfs.sh left %s behind after refusing: %v", out, err)
		}
	}
}

// TestLinkerVariables checks that every "-X portico/internal/buildinfo.NAME"
// of the Dockerfile and the release configuration names a variable that
// exists: the linker ignores a name it does not find, and the release
// would print no version.
func TestLinkerVariables(t *testing.T) {
	vars := map[string]bool{}
	f, err := parser.ParseFile(token.NewFileSet(), "../internal/buildinfo/buildinfo.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, decl := range f.Decls {
		if g, ok := decl.(*ast.GenDecl); ok && g.Tok == token.VAR {
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); ok && id.Name == "string" {
					for _, n := range vs.Names {
						vars[n.Name] = true
					}
				}
			}
		}
	}
	re := regexp.MustCompile(`-X portico/internal/buildinfo\.(\w+)=`)
	for _, file := range []string{"../Dockerfile", "../.goreleaser.yaml"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		set := map[string]bool{}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			set[m[1]] = true
			if !vars[m[1]] {
				t.Errorf("%s sets buildinfo.%s, which is not a string variable of package buildinfo", file, m[1])
			}
		}
		for v := range vars {
			if !set[v] {
				t.Errorf("%s does not set buildinfo.%s", file, v)
			}
		}
	}
}

// TestDockerfileStages checks that the release image and the one CI
// builds differ only in where their files come from: both stages start
// from "runtime", which holds every setting, and only copy files.
func TestDockerfileStages(t *testing.T) {
	f, err := os.Open("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type stage struct {
		from, name string
		instrs     []string
	}
	var stages []*stage
	sc := bufio.NewScanner(f)
	cont := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		wasCont := cont
		cont = strings.HasSuffix(line, "\\")
		if wasCont {
			continue
		}
		fields := strings.Fields(line)
		instr := strings.ToUpper(fields[0])
		if instr == "FROM" {
			s := &stage{from: fields[1]}
			if len(fields) == 4 && strings.EqualFold(fields[2], "AS") {
				s.name = fields[3]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) > 0 {
			stages[len(stages)-1].instrs = append(stages[len(stages)-1].instrs, instr)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	byName := map[string]*stage{}
	for _, s := range stages {
		byName[s.name] = s
	}
	final, prebuilt := stages[len(stages)-1], byName["prebuilt"]
	if prebuilt == nil || final.name != "" {
		t.Fatalf("want a stage named prebuilt and an unnamed final stage; stages: %+v", stages)
	}
	for _, s := range []*stage{prebuilt, final} {
		if s.from != "runtime" {
			t.Errorf("stage %q starts from %q, want runtime", s.name, s.from)
		}
		for _, in := range s.instrs {
			if in != "COPY" && in != "VOLUME" {
				t.Errorf("stage %q has %s: settings belong in the runtime stage, shared by both", s.name, in)
			}
		}
	}
	if rt := byName["runtime"]; rt == nil || rt.from != "scratch" || !slices.Contains(rt.instrs, "USER") {
		t.Errorf("the runtime stage must start from scratch and set USER: %+v", rt)
	}
}

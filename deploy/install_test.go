package deploy

import (
	"archive/zip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"portico/internal/testenv"
)

// installPath is the module path this test gives the module, standing in
// for the public one it would be published under: "go install" needs a
// path whose first element is a domain, which "portico" is not.
const installPath = "example.org/portico"

// TestGoInstall publishes the module, under installPath, to a module proxy
// in a directory, and runs "go install PATH/cmd/portico@latest" against
// it, as a user would against the public proxy: it checks that nothing in
// the module stops a remote install (a replace directive, a file outside
// the module) and that the installed binary reports the module version
// the go command recorded, with no linker flags and no VCS stamp.
func TestGoInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the whole program anew: skipped with -short")
	}
	git := testenv.LookPath(t, "git")
	goBin := testenv.LookPath(t, "go")
	const version = "v0.7.1"
	out, err := exec.Command(git, "-C", "..", "ls-files", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	dir := t.TempDir()
	proxy := filepath.Join(dir, "proxy", installPath, "@v")
	os.MkdirAll(proxy, 0o755)
	zf, err := os.Create(filepath.Join(proxy, version+".zip"))
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(zf)
	var mod []byte
	for _, name := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		b, err := os.ReadFile(filepath.Join("..", name))
		if err != nil {
			if os.IsNotExist(err) { // deleted in the work tree, not yet committed
				continue
			}
			t.Fatal(err)
		}
		switch {
		case name == "go.mod":
			b = []byte(strings.Replace(string(b), "module portico\n", "module "+installPath+"\n", 1))
			mod = b
		case strings.HasSuffix(name, ".go"):
			b = []byte(strings.ReplaceAll(string(b), `"portico/`, `"`+installPath+`/`))
		}
		w, err := zw.Create(installPath + "@" + version + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	zf.Close()
	if !strings.Contains(string(mod), "module "+installPath+"\n") {
		t.Fatalf("go.mod does not start with module portico:\n%s", mod)
	}
	os.WriteFile(filepath.Join(proxy, version+".mod"), mod, 0o644)
	os.WriteFile(filepath.Join(proxy, version+".info"), []byte(`{"Version":"`+version+`","Time":"2026-12-01T10:00:00Z"}`), 0o644)
	os.WriteFile(filepath.Join(proxy, "list"), []byte(version+"\n"), 0o644)

	// The dependencies come from the local module cache, which is laid
	// out as a proxy too: nothing is fetched from the network. A module
	// cache of its own keeps the stand-in module out of the real one;
	// -trimpath keeps its new paths out of the build cache's keys, so that
	// what was compiled before comes from the cache.
	cache, err := exec.Command(goBin, "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	modcache, gobin := filepath.Join(dir, "modcache"), filepath.Join(dir, "bin")
	env := append(os.Environ(),
		"GOPROXY=file://"+filepath.Join(dir, "proxy")+",file://"+filepath.Join(strings.TrimSpace(string(cache)), "cache", "download"),
		"GOMODCACHE="+modcache, "GOBIN="+gobin, "GOFLAGS=-trimpath", "GOSUMDB=off", "GOTOOLCHAIN=local", "CGO_ENABLED=0")
	t.Cleanup(func() {
		clean := exec.Command(goBin, "clean", "-modcache")
		clean.Env = env
		clean.Run()
	})
	install := exec.Command(goBin, "install", installPath+"/cmd/portico@latest")
	install.Env, install.Dir = env, dir
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("go install %s/cmd/portico@latest: %v\n%s", installPath, err, out)
	}
	out, err = exec.Command(filepath.Join(gobin, "portico"), "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "portico "+version+"\ncommit: unknown") {
		t.Errorf("portico version after go install: %v\n%s", err, out)
	}
}

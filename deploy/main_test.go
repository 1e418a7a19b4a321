package deploy

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The version the binary of these tests is stamped with, as a release
// build stamps it.
const (
	testVersion = "v0.0.0-deploy-test"
	testCommit  = "0123456789abcdef0123456789abcdef01234567"
)

// bin is the static portico binary built once for these tests, as the
// Dockerfile builds it.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "portico-deploy")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "portico")
	build := exec.Command("go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -X portico/internal/buildinfo.version="+testVersion+" -X portico/internal/buildinfo.commit="+testCommit,
		"-o", bin, "../cmd/portico")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building portico: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

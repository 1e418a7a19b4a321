package dockertest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"portico/internal/testenv"
)

// Run runs a command and returns its output, stdout and stderr
// together. A failure, or running past timeout, is an error that
// carries the command line and the output.
func Run(t testing.TB, timeout time.Duration, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

// Daemon starts a background process that logs to logFile, with the
// test's environment and the variables in env added, and stops it when
// the test ends: an interrupt, then a kill if it has not exited within
// 20 seconds. The end of its log is shown when the test failed.
func Daemon(t testing.TB, logFile string, env []string, name string, args ...string) {
	t.Helper()
	f, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		f.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logFile)
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			t.Logf("%s log:\n%s", name, b)
		}
	})
}

// Dockerd is a docker daemon run for one test, driven with the docker
// command.
type Dockerd struct{ cli, sock string }

// DockerdOptions configure a dockerd.
type DockerdOptions struct {
	// Insecure are the registries (host:port) dockerd may reach over
	// plain HTTP. Loopback ones need not be listed: dockerd allows
	// them, localhost included.
	Insecure []string
	// Proxy, when set, is the forward proxy ("http://127.0.0.1:PORT")
	// dockerd sends registry requests through, so that a test can
	// answer for a registry's real name. Requests to localhost and
	// loopback addresses never go through it.
	Proxy string
}

// StartDockerd runs a dockerd of its own, with its own data and socket
// and no networking of containers, until the test ends. Without dockerd
// and docker on PATH, or without root, the test stops through testenv.
func StartDockerd(t testing.TB, o DockerdOptions) *Dockerd {
	t.Helper()
	bin := testenv.LookPath(t, "dockerd")
	cli := testenv.LookPath(t, "docker")
	if os.Geteuid() != 0 {
		testenv.Missing(t, "dockerd", "the docker test runs as root")
	}
	dir, err := os.MkdirTemp("", "dockerd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// dockerd leaves its network namespace mounted under the exec
		// root when it stops; unmounted, the directory can go.
		_ = exec.Command("umount", "-l", filepath.Join(dir, "exec", "netns", "default")).Run()
		os.RemoveAll(dir)
	})
	sock := "unix://" + filepath.Join(dir, "d.sock")
	args := []string{"--iptables=false", "--bridge=none", "--storage-driver=vfs",
		"--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "pid"), "-H", sock}
	for _, h := range o.Insecure {
		args = append(args, "--insecure-registry", h)
	}
	var env []string
	if o.Proxy != "" {
		env = []string{"HTTP_PROXY=" + o.Proxy, "HTTPS_PROXY=" + o.Proxy, "http_proxy=" + o.Proxy, "https_proxy=" + o.Proxy, "NO_PROXY=", "no_proxy="}
	}
	Daemon(t, filepath.Join(dir, "log"), env, bin, args...)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := Run(t, 10*time.Second, cli, "-H", sock, "version"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for dockerd")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &Dockerd{cli: cli, sock: sock}
}

// Docker runs the docker command against this daemon and returns its
// output, stdout and stderr together.
func (d *Dockerd) Docker(t testing.TB, timeout time.Duration, args ...string) (string, error) {
	t.Helper()
	return Run(t, timeout, d.cli, append([]string{"-H", d.sock}, args...)...)
}

// Pull runs "docker pull ref" and returns the manifest digest docker
// recorded for it.
func (d *Dockerd) Pull(t testing.TB, ref string) (string, error) {
	t.Helper()
	if _, err := Run(t, 3*time.Minute, d.cli, "-H", d.sock, "pull", ref); err != nil {
		return "", err
	}
	out, err := Run(t, time.Minute, d.cli, "-H", d.sock, "image", "inspect", "--format", "{{index .RepoDigests 0}}", ref)
	_, digest, _ := strings.Cut(strings.TrimSpace(out), "@")
	return digest, err
}

// Remove forgets a pulled image.
func (d *Dockerd) Remove(t testing.TB, ref string) {
	t.Helper()
	_, _ = Run(t, time.Minute, d.cli, "-H", d.sock, "rmi", "-f", ref)
}

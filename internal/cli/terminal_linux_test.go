package cli_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"portico/internal/cli"
	"portico/internal/config"
	"portico/internal/testenv"
)

// openPTY opens a pseudo-terminal: what the user types is written to
// master, and the command reads it from slave.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// TestPasswordAtTerminal types the password at a terminal: the command
// asks twice, and the terminal never shows what was typed.
func TestPasswordAtTerminal(t *testing.T) {
	for _, tc := range []struct {
		name          string
		first, second string
		code          int
		want          string
	}{
		{"same", password, password, 0, "added server administrator admin@example.org"},
		{"different", password, password + "!", 1, "the two passwords differ"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			master, slave := openPTY(t)
			dir := filepath.Join(t.TempDir(), "data")
			var stdout testenv.Buffer
			var stderr testenv.Buffer
			env := &cli.Env{Stdin: slave, Stdout: &stdout, Stderr: &stderr, Lookup: func(string) (string, bool) { return "", false }}
			done := make(chan int, 1)
			go func() {
				done <- cli.RunEnv(context.Background(), env, []string{"users", "add", "admin@example.org", "--admin", "--data", dir})
			}()

			// Type each password once the prompt is shown and echo is
			// off, as a person would, without racing the command.
			typeAt := func(prompt, text string) {
				t.Helper()
				deadline := time.Now().Add(10 * time.Second)
				for {
					tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
					if err != nil {
						t.Fatal(err)
					}
					if strings.Contains(stderr.String(), prompt) && tio.Lflag&unix.ECHO == 0 {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("no prompt %q with echo off; stderr:\n%s", prompt, stderr.String())
					}
					time.Sleep(5 * time.Millisecond)
				}
				if _, err := master.WriteString(text + "\n"); err != nil {
					t.Fatal(err)
				}
			}
			typeAt("Password for admin@example.org: ", tc.first)
			typeAt("The same password again: ", tc.second)
			select {
			case code := <-done:
				if code != tc.code || !strings.Contains(stderr.String(), tc.want) {
					t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", code, stderr.String(), tc.code, tc.want)
				}
			case <-time.After(time.Minute):
				t.Fatal("users add did not finish")
			}
			if tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS); err != nil || tio.Lflag&unix.ECHO == 0 {
				t.Errorf("echo was left off (%v)", err)
			}
			// Whatever the terminal showed comes before this marker.
			if _, err := slave.WriteString("END\n"); err != nil {
				t.Fatal(err)
			}
			var shown string
			for r := bufio.NewReader(master); !strings.Contains(shown, "END"); {
				b, err := r.ReadByte()
				if err != nil {
					t.Fatal(err)
				}
				shown += string(b)
			}
			if strings.Contains(shown, "horse") {
				t.Errorf("the terminal echoed the password: %q", shown)
			}
			if stdout.String() != "" || strings.Contains(stderr.String(), "horse") {
				t.Errorf("the password was written out: stdout %q, stderr %q", stdout.String(), stderr.String())
			}
			if tc.code == 0 {
				s := &site{t: t, loc: config.StoreLocation{Data: dir}}
				if _, _, _, err := s.service("").SignIn(t.Context(), "admin@example.org", tc.first); err != nil {
					t.Errorf("signing in with the password typed: %v", err)
				}
			}
		})
	}
}

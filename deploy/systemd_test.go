package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"portico/internal/testenv"
)

// maxExposure is the highest "systemd-analyze security" exposure the unit
// may have (0 is fully locked down, 10 is none of it; "OK" ends at 3.9).
// The unit scores 1.4: what remains is the network a gateway needs and
// the capability to bind port 80.
const maxExposure = 2.0

// TestSystemdUnit verifies the unit with systemd's own checks. The only
// change made to it is where the binary is: verify requires ExecStart's
// program to exist, and the test does not install one into /usr/local.
func TestSystemdUnit(t *testing.T) {
	sa := testenv.LookPath(t, "systemd-analyze")
	b, err := os.ReadFile("systemd/portico.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	if !strings.Contains(unit, "ExecStart=/usr/local/bin/portico serve") {
		t.Fatal("ExecStart does not run /usr/local/bin/portico serve")
	}
	for _, want := range []string{"DynamicUser=yes", "ProtectSystem=strict", "StateDirectory=portico",
		"CapabilityBoundingSet=CAP_NET_BIND_SERVICE", "AmbientCapabilities=CAP_NET_BIND_SERVICE", "NoNewPrivileges=yes",
		"Environment=PORTICO_DATA=%S/portico"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).MatchString(unit) {
			t.Errorf("the unit does not set %s", want)
		}
	}
	path := filepath.Join(t.TempDir(), "portico.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(unit, "/usr/local/bin/portico", bin)), 0o644); err != nil {
		t.Fatal(err)
	}

	// verify exits 0 on many problems (an unknown key, a bad value) and
	// only says so: any output is a failure.
	out, err := exec.Command(sa, "verify", path).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	out, err = exec.Command(sa, "security", "--offline=true", "--no-pager", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for portico\.service: (\d+\.\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	level, _ := strconv.ParseFloat(string(m[1]), 64)
	t.Logf("systemd-analyze security: exposure %.1f", level)
	if level > maxExposure {
		t.Errorf("exposure level %.1f, want at most %.1f:\n%s", level, maxExposure, out)
	}
}

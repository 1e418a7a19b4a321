package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// LookPathOptional is LookPath for programs that this kind of machine
// cannot install (no Debian or npm package provides them): a missing one
// skips the test even when PORTICO_TEST_REQUIRE is "all", and fails only
// when the variable names it explicitly.
func LookPathOptional(t testing.TB, name, why string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	for item := range strings.SplitSeq(os.Getenv(RequireVar), ",") {
		if strings.TrimSpace(item) == name {
			t.Fatalf("%s is required here (%s=%s) but missing: %s", name, RequireVar, os.Getenv(RequireVar), why)
		}
	}
	t.Skipf("skipping: %s is not on PATH: %s (set %s=%s to make this a failure)", name, why, RequireVar, name)
	return ""
}

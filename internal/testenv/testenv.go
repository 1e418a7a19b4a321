// Package testenv gives tests access to what they need from the machine:
// client binaries (pip, npm, skopeo, docker, ...) and services
// (PostgreSQL, ...).
//
// When something is missing a test skips with a clear message, so that
// "go test ./..." works on a bare machine. CI sets PORTICO_TEST_REQUIRE to
// a comma-separated list of names, or to "all", and then a missing
// requirement fails the test instead: nothing is silently skipped there.
package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// RequireVar names the environment variable that turns skips into
// failures.
const RequireVar = "PORTICO_TEST_REQUIRE"

// Required reports whether the environment requires name to be present.
func Required(name string) bool {
	for item := range strings.SplitSeq(os.Getenv(RequireVar), ",") {
		item = strings.TrimSpace(item)
		if item == "all" || item == name {
			return true
		}
	}
	return false
}

// Missing stops the test because name is not available: it skips, or
// fails when name is required (see RequireVar). why says what is missing
// and how to get it.
func Missing(t testing.TB, name, why string) {
	t.Helper()
	if Required(name) {
		t.Fatalf("%s is required here (%s=%s) but missing: %s", name, RequireVar, os.Getenv(RequireVar), why)
	}
	t.Skipf("skipping: %s is not available: %s (set %s=%s to make this a failure)", name, why, RequireVar, name)
}

// LookPath returns the path of the program name, or stops the test
// through Missing.
func LookPath(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name, "no "+name+" on PATH")
	}
	return p
}

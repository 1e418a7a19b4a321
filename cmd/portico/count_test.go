package main

import (
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"
)

// TestCheckAndServeCountAlike: `portico check` and the log of `portico
// serve` give the same rule and domain counts for one manifest, including
// rules that share a handler (a domain's docker, Python and npm rules).
func TestCheckAndServeCountAlike(t *testing.T) {
	const file = "testdata/shared-handlers.json"
	out, err := exec.Command(bin, "check", "--manifest", file).CombinedOutput()
	if err != nil {
		t.Fatalf("check: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`: ok \((\d+) rules, (\d+) domains\)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("check output has no counts:\n%s", out)
	}
	checkRules, checkDomains := string(m[1]), string(m[2])
	if checkRules != "10" || checkDomains != "4" {
		t.Errorf("check counts %s rules, %s domains, want 10 and 4", checkRules, checkDomains)
	}

	manifest, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	g := start(t, string(manifest))
	logged := regexp.MustCompile(`msg="manifest loaded".* rules=(\d+) domains=(\d+)`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := logged.FindStringSubmatch(g.stderr.String()); m != nil {
			if m[1] != checkRules || m[2] != checkDomains {
				t.Errorf("serve logged %s rules, %s domains; check said %s and %s", m[1], m[2], checkRules, checkDomains)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve logged no load:\n%s", g.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

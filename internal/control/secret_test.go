package control

import (
	"regexp"
	"strings"
	"testing"
)

func TestNewID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if !re.MatchString(id) {
			t.Fatalf("NewID() = %q, not a version 4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestPassword(t *testing.T) {
	h := HashPassword("correct horse battery")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q", h)
	}
	if h2 := HashPassword("correct horse battery"); h2 == h {
		t.Fatalf("two hashes of one password are equal: salts are not random")
	}
	if ok, err := checkPassword(h, "correct horse battery"); !ok || err != nil {
		t.Errorf("right password: %v, %v", ok, err)
	}
	if ok, err := checkPassword(h, "correct horse battery "); ok || err != nil {
		t.Errorf("wrong password: %v, %v", ok, err)
	}
	for _, bad := range []string{
		"", "plain", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA", // 4 GiB
		"$argon2id$v=19$m=19456,t=1000,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=19456,t=2,p=1$!!$aGFzaGhhc2hoYXNoaGFzaA",
	} {
		if ok, err := checkPassword(bad, "x"); ok || err == nil {
			t.Errorf("checkPassword(%q) = %v, %v; want errBadHash", bad, ok, err)
		}
	}
}

func TestSecrets(t *testing.T) {
	s, h := newSecret(tokenPrefix)
	if !strings.HasPrefix(s, "portico_") || len(s) != len("portico_")+43 {
		t.Fatalf("secret %q", s)
	}
	if string(HashSecret(s)) != string(h) {
		t.Fatalf("HashSecret disagrees with newSecret")
	}
}

// TestDummyHash checks that a sign-in naming no user costs what a wrong
// password costs: the dummy hash is read, with HashPassword's parameters,
// and matches nothing.
func TestDummyHash(t *testing.T) {
	params := func(h string) string {
		parts := strings.Split(h, "$")
		if len(parts) != 6 {
			t.Fatalf("%q is not a PHC string", h)
		}
		return strings.Join(parts[:4], "$")
	}
	if got, want := params(dummyHash), params(HashPassword("x")); got != want {
		t.Errorf("dummy hash parameters %q, want %q", got, want)
	}
	for _, pw := range []string{"", "no user has this password", "x"} {
		if ok, err := checkPassword(dummyHash, pw); ok || err != nil {
			t.Errorf("checkPassword(dummyHash, %q) = %v, %v; want false, nil", pw, ok, err)
		}
	}
}

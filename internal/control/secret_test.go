package control

import (
	"regexp"
	"strconv"
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

// TestDummyHash: the hash a sign-in without a user is checked against
// has the parameters of a real one (so it costs the same) and matches
// no password.
func TestDummyHash(t *testing.T) {
	// The algorithm, its parameters, and the lengths of salt and key.
	shape := func(h string) string {
		p := strings.Split(h, "$")
		if len(p) != 6 {
			return h
		}
		return strings.Join(p[:4], "$") + "$" + strconv.Itoa(len(p[4])) + "$" + strconv.Itoa(len(p[5]))
	}
	if real := HashPassword("x"); shape(dummyHash) != shape(real) {
		t.Errorf("dummy hash %q is not shaped as a real one, %q", dummyHash, real)
	}
	for _, pw := range []string{"", "no user has this password", "x"} {
		if ok, err := checkPassword(dummyHash, pw); ok || err != nil {
			t.Errorf("checkPassword(dummyHash, %q) = %v, %v; want false, nil", pw, ok, err)
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

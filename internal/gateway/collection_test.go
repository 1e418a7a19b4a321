package gateway

import (
	"crypto/sha256"
	"fmt"
	"regexp"
	"testing"
)

// TestCollectionPackageID: the id is a version 8 UUID over a SHA-256 of
// both names, the same on every call, different when either name is,
// and the names cannot be shifted into each other.
func TestCollectionPackageID(t *testing.T) {
	uuid8 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	id := CollectionPackageID("coll", "acme/rocket")
	if !uuid8.MatchString(id) {
		t.Errorf("%q is not a version 8 UUID", id)
	}
	sum := sha256.Sum256([]byte("portico collection package\x00coll\x00acme/rocket"))
	sum[6], sum[8] = sum[6]&0x0f|0x80, sum[8]&0x3f|0x80
	if want := fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16]); id != want {
		t.Errorf("CollectionPackageID = %s, want %s", id, want)
	}
	if again := CollectionPackageID("coll", "acme/rocket"); again != id {
		t.Errorf("second call gave %s, first %s", again, id)
	}
	seen := map[string]string{id: "coll acme/rocket"}
	long := string(make([]byte, 300)) // past the stack buffer
	for _, p := range [][2]string{{"coll", "acme/jet"}, {"coll2", "acme/rocket"}, {"col", "lacme/rocket"}, {"coll\x00acme", "rocket"}, {"coll", long}, {"", ""}} {
		got := CollectionPackageID(p[0], p[1])
		if prev, dup := seen[got]; dup {
			t.Errorf("%q and %s share the id %s", p, prev, got)
		}
		seen[got] = fmt.Sprintf("%q", p)
	}
}

// TestCollectionPackageIDAllocs: a download through a collection costs
// one allocation for its id, the string itself.
func TestCollectionPackageIDAllocs(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = CollectionPackageID("0195f7f4-3c2a-7c1e-9d4b-2f8a6b1c0e11", "acme/rocket-skates") }); n != 1 {
		t.Errorf("CollectionPackageID allocates %v times, want 1", n)
	}
}

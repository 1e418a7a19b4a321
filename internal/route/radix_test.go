package route

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestRadixAgreesWithPrefixScan checks collect against the definition:
// every key that is a prefix of the path, and nothing else.
func TestRadixAgreesWithPrefixScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "/ab-1"
	randString := func(max int) string {
		var b strings.Builder
		for range rng.IntN(max + 1) {
			b.WriteByte(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	var b radixBuilder // reused, as compiling a table reuses it
	for round := range 200 {
		b.reset()
		var keys []string
		for i := range rng.IntN(30) {
			k := randString(6)
			keys = append(keys, k)
			b.insert(k, int32(i))
		}
		root := b.build()
		if len(root.nodes) != cap(root.nodes) || len(root.rules) != len(keys) || len(root.kids) != max(len(root.nodes)-1, 0) {
			t.Fatalf("round %d: %d nodes in an array of %d, %d rules of %d keys, %d children", round, len(root.nodes), cap(root.nodes), len(root.rules), len(keys), len(root.kids))
		}
		for range 50 {
			path := randString(8)
			got := root.collect(nil, path)
			slices.Sort(got)
			var want []int32
			for i, k := range keys {
				if strings.HasPrefix(path, k) {
					want = append(want, int32(i))
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("round %d: collect(%q) = %v, want %v (keys %q)", round, path, got, want, keys)
			}
		}
	}
}

package sqlite

import (
	"context"
	"fmt"
	"testing"

	"portico/internal/store"
	"portico/internal/store/storetest"
)

func open(t *testing.T, opts storetest.Options) store.Store {
	s, err := Open(t.Context(), Config{Dir: t.TempDir(), Retention: opts.Retention})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) { storetest.Run(t, open) }

func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{512, 5000, 50000} {
		for _, warm := range []int{0, 2_000_000} {
			name := fmt.Sprintf("batch=%d", size)
			if warm > 0 {
				if size < 50000 {
					continue
				}
				name += "-warm"
			}
			b.Run(name, func(b *testing.B) {
				s, err := Open(context.Background(), Config{Dir: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				storetest.BenchmarkAppend(b, s, size, warm)
			})
		}
	}
}

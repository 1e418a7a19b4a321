package sqlite

import (
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

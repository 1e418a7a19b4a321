package sqlite

import (
	"testing"

	"portico/internal/tlsstore"
	"portico/internal/tlsstore/tlsstoretest"
)

var _ tlsstore.Backend = (*Store)(nil)

// TestTLSStorage runs the certificate storage's contract on two handles
// of one database file, as two processes sharing the data directory.
func TestTLSStorage(t *testing.T) {
	tlsstoretest.Run(t, func(t *testing.T) (tlsstore.Backend, tlsstore.Backend) {
		dir := t.TempDir()
		var handles [2]tlsstore.Backend
		for i := range handles {
			s, err := Open(t.Context(), Config{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			handles[i] = s
		}
		return handles[0], handles[1]
	})
}

// undoTLS takes migration 0006 back, for tests that turn a database into
// one of an earlier schema and migrate it again. Its column of domains
// goes with the table, which undoControl drops.
const undoTLS = `DROP TABLE tls_data; DROP TABLE tls_locks;
	`

package postgres

import (
	"testing"

	"portico/internal/testenv"
	"portico/internal/tlsstore"
	"portico/internal/tlsstore/tlsstoretest"
)

var _ tlsstore.Backend = (*Store)(nil)

// TestTLSStorage runs the certificate storage's contract on two stores
// of one database, as two replicas.
func TestTLSStorage(t *testing.T) {
	tlsstoretest.Run(t, func(t *testing.T) (tlsstore.Backend, tlsstore.Backend) {
		url := testenv.Postgres(t)
		var replicas [2]tlsstore.Backend
		for i := range replicas {
			s, err := Open(t.Context(), Config{URL: url})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			replicas[i] = s
		}
		return replicas[0], replicas[1]
	})
}

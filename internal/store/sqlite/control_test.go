package sqlite

import (
	"testing"

	"portico/internal/control"
	"portico/internal/store/storetest"
)

// TestControl runs the control plane's contract suite. Several stores on
// one directory are what a gateway and "portico import" are: two
// processes on one file.
func TestControl(t *testing.T) {
	storetest.Control(t, func(t *testing.T, n int) []control.Store {
		dir := t.TempDir()
		stores := make([]control.Store, n)
		for i := range stores {
			s, err := Open(t.Context(), Config{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			stores[i] = s
		}
		return stores
	})
}

// undoControl takes migration 0005 back, for tests that turn a database
// into one of an earlier schema and migrate it again.
const undoControl = `DROP TABLE users; DROP TABLE orgs; DROP TABLE org_members; DROP TABLE packages;
	DROP TABLE package_members; DROP TABLE collections; DROP TABLE domains; DROP TABLE tokens;
	DROP TABLE sessions; DROP TABLE sign_in_links; DROP TABLE config_version;
	`

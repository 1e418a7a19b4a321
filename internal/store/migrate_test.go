package store

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestReadMigrations(t *testing.T) {
	good := fstest.MapFS{
		"migrations/0002_more.sql": {Data: []byte("CREATE TABLE b (x int);")},
		"migrations/0001_init.sql": {Data: []byte("CREATE TABLE a (x int);")},
		"migrations/README":        {Data: []byte("not a migration")},
	}
	ms, err := ReadMigrations(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0] != (Migration{1, "0001_init", "CREATE TABLE a (x int);"}) || ms[1].Version != 2 || ms[1].Name != "0002_more" {
		t.Errorf("ReadMigrations = %+v, want 0001_init then 0002_more", ms)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"gap": {
			"migrations/0001_init.sql": {Data: []byte("x")},
			"migrations/0003_skip.sql": {Data: []byte("x")},
		},
		"not numbered": {"migrations/init.sql": {Data: []byte("x")}},
		"short name":   {"migrations/1.sql": {Data: []byte("x")}},
	} {
		if ms, err := ReadMigrations(fsys); err == nil || !strings.Contains(err.Error(), "out of sequence") {
			t.Errorf("%s: ReadMigrations = %v, %v; want an out-of-sequence error", name, ms, err)
		}
	}
	twice := fstest.MapFS{
		"migrations/0001_init.sql":  {Data: []byte("x")},
		"migrations/0002_certs.sql": {Data: []byte("x")},
		"migrations/0002_more.sql":  {Data: []byte("x")},
	}
	if ms, err := ReadMigrations(twice); err == nil || !strings.Contains(err.Error(), "0002_certs and 0002_more share the number 0002") {
		t.Errorf("two migrations numbered 0002: ReadMigrations = %v, %v; want an error naming both", ms, err)
	}
	if ms, err := ReadMigrations(fstest.MapFS{}); err != nil || len(ms) != 0 {
		t.Errorf("no migrations: %v, %v", ms, err)
	}
}

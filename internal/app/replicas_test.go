package app

import (
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"portico/internal/config"
	"portico/internal/testenv"
)

// replicaConfig is a gateway of the store at database, with its own data
// directory and no manifest.
func replicaConfig(t *testing.T, database string) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Listen, cfg.OpsListen = "127.0.0.1:0", "off"
	cfg.Control.AppListen = "127.0.0.1:0"
	cfg.Control.BaseDomain = "gw.test"
	cfg.Analytics.Data = filepath.Join(t.TempDir(), "data")
	cfg.Analytics.Database = database
	cfg.Events = "none"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// waitAnswer asks gateway addr for path on host until it answers status
// (and, for redirects, location), and returns how long that took from
// since.
func waitAnswer(t *testing.T, addr, host, path string, status int, location string, since time.Time, limit time.Duration) time.Duration {
	t.Helper()
	for {
		st, loc := download(t, addr, host, path)
		if st == status && loc == location {
			return time.Since(since)
		}
		if time.Since(since) > limit {
			t.Fatalf("%s did not answer %d %q for %s%s within %v: still %d %q", addr, status, location, host, path, limit, st, loc)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestReplicasFollowTheStore runs three gateways on one PostgreSQL
// database: a package created, switched to another backend and deleted
// through one replica's API routes on the other two within one second.
func TestReplicasFollowTheStore(t *testing.T) {
	db := testenv.Postgres(t)
	a := startApp(t, replicaConfig(t, db))
	b := startApp(t, replicaConfig(t, db))
	c := startApp(t, replicaConfig(t, db))
	tok, org := adminToken(t, a.App, "ops@acme.test")
	host := org + ".gw.test"
	others := []string{b.gw.Addr().String(), c.gw.Addr().String()}

	const rounds = 10
	var delays []time.Duration
	for i := range rounds {
		path := fmt.Sprintf("/rocket/%d.tar.gz", i)
		start := time.Now()
		st, body := call(t, a.App, tok, "POST", "/api/v1/packages", map[string]any{"org": org, "name": fmt.Sprintf("rocket-%d", i), "rule": fileRule(host, "dl.test")})
		if st != http.StatusCreated {
			t.Fatalf("create = %d %s", st, body)
		}
		id := jsonField(t, body, "id")
		for _, gw := range others {
			delays = append(delays, waitAnswer(t, gw, host, path, http.StatusTemporaryRedirect, fmt.Sprintf("https://dl.test/%d.tar.gz", i), start, time.Second))
		}
		start = time.Now()
		if st, body := call(t, a.App, tok, "PATCH", "/api/v1/packages/"+id, map[string]any{"rule": fileRule(host, "mirror.test")}); st != http.StatusOK {
			t.Fatalf("patch = %d %s", st, body)
		}
		for _, gw := range others {
			delays = append(delays, waitAnswer(t, gw, host, path, http.StatusTemporaryRedirect, fmt.Sprintf("https://mirror.test/%d.tar.gz", i), start, time.Second))
		}
		start = time.Now()
		if st, body := call(t, a.App, tok, "DELETE", "/api/v1/packages/"+id, nil); st != http.StatusNoContent {
			t.Fatalf("delete = %d %s", st, body)
		}
		for _, gw := range others {
			delays = append(delays, waitAnswer(t, gw, host, path, http.StatusNotFound, "", start, time.Second))
		}
	}
	slices.Sort(delays)
	t.Logf("API write to routing on another replica, %d changes seen by 2 replicas: p50 %v, p99 %v, max %v",
		3*rounds, delays[len(delays)/2].Round(100*time.Microsecond), delays[len(delays)*99/100].Round(100*time.Microsecond), delays[len(delays)-1].Round(100*time.Microsecond))
}

// TestReplicaOutage takes the database away from a replica: it keeps
// serving what it had, a restart during the outage serves its local
// copy of the last table, and once the database is back the replica
// catches up with what changed meanwhile.
func TestReplicaOutage(t *testing.T) {
	db := testenv.Postgres(t)
	a := startApp(t, replicaConfig(t, db))
	proxy, viaProxy := testenv.PostgresProxy(t, db)
	bcfg := replicaConfig(t, viaProxy)
	bcfg.ReloadInterval = 200 * time.Millisecond
	b := startApp(t, bcfg)
	tok, org := adminToken(t, a.App, "ops@acme.test")
	host := org + ".gw.test"
	st, body := call(t, a.App, tok, "POST", "/api/v1/packages", map[string]any{"org": org, "name": "rocket", "rule": fileRule(host, "dl.test")})
	if st != http.StatusCreated {
		t.Fatalf("create = %d %s", st, body)
	}
	waitAnswer(t, b.gw.Addr().String(), host, "/rocket/1.tar.gz", http.StatusTemporaryRedirect, "https://dl.test/1.tar.gz", time.Now(), 5*time.Second)

	proxy.Cut()
	// A change the replica cannot see yet.
	st, body = call(t, a.App, tok, "POST", "/api/v1/packages", map[string]any{"org": org, "name": "later",
		"rule": map[string]any{"type": "file-v1", "domain": host, "incoming-path": "/later/{v}", "outgoing-url": "https://dl.test/later/{v}"}})
	if st != http.StatusCreated {
		t.Fatalf("create during the outage = %d %s", st, body)
	}
	time.Sleep(time.Second) // a few polls fail meanwhile
	if st, loc := download(t, b.gw.Addr().String(), host, "/rocket/2.tar.gz"); st != http.StatusTemporaryRedirect || loc != "https://dl.test/2.tar.gz" {
		t.Fatalf("during the outage: %d %q, want the last table to serve", st, loc)
	}

	// Restarted while the database is down, the replica serves the
	// local copy of the table it had.
	b.stop()
	b = startApp(t, bcfg)
	if st, loc := download(t, b.gw.Addr().String(), host, "/rocket/3.tar.gz"); st != http.StatusTemporaryRedirect || loc != "https://dl.test/3.tar.gz" {
		t.Fatalf("restarted during the outage: %d %q, want the local copy to serve", st, loc)
	}
	if st, _ := download(t, b.gw.Addr().String(), host, "/later/1"); st != http.StatusNotFound {
		t.Fatalf("the change made during the outage routes before the database is back: %d", st)
	}

	proxy.Restore(t)
	waitAnswer(t, b.gw.Addr().String(), host, "/later/1", http.StatusTemporaryRedirect, "https://dl.test/later/1", time.Now(), 30*time.Second)
	if st, loc := download(t, b.gw.Addr().String(), host, "/rocket/4.tar.gz"); st != http.StatusTemporaryRedirect || loc != "https://dl.test/4.tar.gz" {
		t.Fatalf("after the outage: %d %q", st, loc)
	}
}

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"portico/internal/testenv"
)

// replicaManifest is the manifest of the replicas: the packages under
// test come from the store, on another domain.
const replicaManifest = `{"rules":[{"type":"file-v1","domain":"static.portico.test","incoming-path":"/dl/{f}","outgoing-url":"https://files.test/{f}","package-id":"static"}]}`

// replicaHost is the domain of the store's packages.
const replicaHost = "get.portico.test"

// replica is a gateway process of the shared store with its app
// listener and its own data directory (the local copy of its table).
type replica struct {
	*gateway
	app  string
	args []string
}

func startReplica(t *testing.T, database, data string) *replica {
	t.Helper()
	app := freeAddr(t)
	args := []string{"--data", data, "--database", database, "--events", "none", "--app-listen", app, "--reload-interval", "200ms"}
	return &replica{gateway: start(t, replicaManifest, args...), app: app, args: args}
}

// restart stops the replica and starts it again with the same store and
// data directory.
func (r *replica) restart(t *testing.T) {
	t.Helper()
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	if err := r.wait(t); err != nil {
		t.Fatalf("replica stopped with %v\n%s", err, r.stderr)
	}
	r.app = freeAddr(t)
	args := slices.Clone(r.args)
	args[len(args)-3] = r.app
	r.gateway = start(t, replicaManifest, args...)
}

// api sends a JSON body to the replica's API with a bearer token and
// returns the status and the answer.
func (r *replica) api(t *testing.T, token, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = strings.NewReader(string(data))
	}
	req, _ := http.NewRequest(method, "http://"+r.app+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, answer
}

// answer is what a gateway answers a GET: its status and Location.
func answer(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	r := get(t, "http://"+addr+path, replicaHost)
	return r.StatusCode, r.Header.Get("Location")
}

// waitRoute asks gateway addr for path until it answers status and
// location, and returns how long that took from since.
func waitRoute(t *testing.T, addr, path string, status int, location string, since time.Time, limit time.Duration) time.Duration {
	t.Helper()
	for {
		st, loc := answer(t, addr, path)
		if st == status && loc == location {
			return time.Since(since)
		}
		if time.Since(since) > limit {
			t.Fatalf("%s did not answer %d %q for %s within %v: still %d %q", addr, status, location, path, limit, st, loc)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// fileRule is a package's rule on replicaHost: /NAME/{v}.tar.gz to
// backend.
func fileRule(name, backend string) map[string]any {
	return map[string]any{"type": "file-v1", "domain": replicaHost, "incoming-path": "/" + name + "/{v}.tar.gz", "outgoing-url": "https://" + backend + "/" + name + "/{v}.tar.gz"}
}

// replicaSite prepares a store for replicas: a server administrator
// with a write token, and replicaHost verified for its organization.
func replicaSite(t *testing.T, database string) (token string) {
	t.Helper()
	operator(t, "a long passphrase of your own\n", "users", "add", "admin@example.org", "--admin", "--database", database)
	token = strings.TrimSpace(operator(t, "", "tokens", "create", "--user", "admin@example.org", "--scope", "write", "--database", database))
	operator(t, "", "domains", "add", replicaHost, "--org", "user-admin", "--verified", "--database", database)
	return token
}

// TestReplicaProcesses runs three gateway processes on one PostgreSQL
// database: a package created, switched to another backend and deleted
// through the API of one routes accordingly on the other two within one
// second, and the one that took the write routes it before answering.
func TestReplicaProcesses(t *testing.T) {
	db := testenv.Postgres(t)
	token := replicaSite(t, db)
	var rs []*replica
	for range 3 {
		rs = append(rs, startReplica(t, db, filepath.Join(t.TempDir(), "data")))
	}
	writer, others := rs[0], []string{rs[1].addr, rs[2].addr}

	const rounds = 20
	var delays []time.Duration
	seen := func(path string, status int, location string, since time.Time) {
		t.Helper()
		if st, loc := answer(t, writer.addr, path); st != status || loc != location {
			t.Fatalf("the replica that took the write answers %d %q right after, want %d %q", st, loc, status, location)
		}
		for _, addr := range others {
			delays = append(delays, waitRoute(t, addr, path, status, location, since, time.Second))
		}
	}
	for i := range rounds {
		name := fmt.Sprintf("rocket-%d", i)
		path := "/" + name + "/v1.tar.gz"
		start := time.Now()
		st, body := writer.api(t, token, "POST", "/api/v1/packages", map[string]any{"org": "user-admin", "name": name, "rule": fileRule(name, "dl.test")})
		var pkg struct{ ID string }
		if st != http.StatusCreated || json.Unmarshal(body, &pkg) != nil || pkg.ID == "" {
			t.Fatalf("create = %d %s", st, body)
		}
		seen(path, http.StatusTemporaryRedirect, "https://dl.test/"+name+"/v1.tar.gz", start)

		start = time.Now()
		if st, body := writer.api(t, token, "PATCH", "/api/v1/packages/"+pkg.ID, map[string]any{"rule": fileRule(name, "mirror.test")}); st != http.StatusOK {
			t.Fatalf("patch = %d %s", st, body)
		}
		seen(path, http.StatusTemporaryRedirect, "https://mirror.test/"+name+"/v1.tar.gz", start)

		start = time.Now()
		if st, body := writer.api(t, token, "DELETE", "/api/v1/packages/"+pkg.ID, nil); st != http.StatusNoContent {
			t.Fatalf("delete = %d %s", st, body)
		}
		seen(path, http.StatusNotFound, "", start)
	}
	slices.Sort(delays)
	t.Logf("API write to routing on another process, %d changes each seen by 2 replicas (%d delays): p50 %v, p99 %v, max %v",
		3*rounds, len(delays), delays[len(delays)/2].Round(100*time.Microsecond), delays[len(delays)*99/100].Round(100*time.Microsecond), delays[len(delays)-1].Round(100*time.Microsecond))
}

// TestReplicaProcessOutage takes the database away from one replica
// process: it keeps serving the table it had, restarted during the
// outage it serves the local copy of that table, and once the database
// is back it routes what changed meanwhile.
func TestReplicaProcessOutage(t *testing.T) {
	db := testenv.Postgres(t)
	token := replicaSite(t, db)
	a := startReplica(t, db, filepath.Join(t.TempDir(), "data"))
	proxy, viaProxy := testenv.PostgresProxy(t, db)
	b := startReplica(t, viaProxy, filepath.Join(t.TempDir(), "data"))

	if st, body := a.api(t, token, "POST", "/api/v1/packages", map[string]any{"org": "user-admin", "name": "rocket", "rule": fileRule("rocket", "dl.test")}); st != http.StatusCreated {
		t.Fatalf("create = %d %s", st, body)
	}
	waitRoute(t, b.addr, "/rocket/v1.tar.gz", http.StatusTemporaryRedirect, "https://dl.test/rocket/v1.tar.gz", time.Now(), 5*time.Second)

	proxy.Cut()
	// A change the cut replica cannot see yet.
	if st, body := a.api(t, token, "POST", "/api/v1/packages", map[string]any{"org": "user-admin", "name": "later", "rule": fileRule("later", "dl.test")}); st != http.StatusCreated {
		t.Fatalf("create during the outage = %d %s", st, body)
	}
	time.Sleep(time.Second) // a few polls fail meanwhile
	if st, loc := answer(t, b.addr, "/rocket/v2.tar.gz"); st != http.StatusTemporaryRedirect || loc != "https://dl.test/rocket/v2.tar.gz" {
		t.Fatalf("during the outage: %d %q, want the last table to serve", st, loc)
	}

	b.restart(t)
	if st, loc := answer(t, b.addr, "/rocket/v3.tar.gz"); st != http.StatusTemporaryRedirect || loc != "https://dl.test/rocket/v3.tar.gz" {
		t.Fatalf("restarted during the outage: %d %q, want the local copy of the last table to serve", st, loc)
	}
	if st, _ := answer(t, b.addr, "/later/v1.tar.gz"); st != http.StatusNotFound {
		t.Fatalf("restarted during the outage, the replica routes a change it could not have read: %d", st)
	}
	if r := get(t, "http://"+b.addr+"/dl/x", "static.portico.test"); r.StatusCode != http.StatusTemporaryRedirect || r.Header.Get("Location") != "https://files.test/x" {
		t.Errorf("the manifest's rule during the outage: %d %q", r.StatusCode, r.Header.Get("Location"))
	}

	proxy.Restore(t)
	waitRoute(t, b.addr, "/later/v1.tar.gz", http.StatusTemporaryRedirect, "https://dl.test/later/v1.tar.gz", time.Now(), 30*time.Second)
	if st, loc := answer(t, b.addr, "/rocket/v4.tar.gz"); st != http.StatusTemporaryRedirect || loc != "https://dl.test/rocket/v4.tar.gz" {
		t.Errorf("after the outage: %d %q", st, loc)
	}
}

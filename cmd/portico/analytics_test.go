package main

// Tests of the analytics side of the real binary: the store, the spool,
// enrichment and "portico stats", with SQLite and with PostgreSQL.

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"portico/internal/event"
	"portico/internal/geoip/geoiptest"
	"portico/internal/store"
	"portico/internal/store/postgres"
	"portico/internal/store/sqlite"
	"portico/internal/testenv"
)

const analyticsManifest = `{"rules":[
 {"type":"file-v1","domain":"get.test","incoming-path":"/dl/{version}/{os}","outgoing-url":"https://files.test/{version}/{os}","package-id":"bin"},
 {"type":"telemetry-v1","domain":"get.test","incoming-path":"/events","package-id":"tel"},
 {"type":"docker-v1","domain":"cr.test","repository-name":"acme/rocket","registry":"ghcr.io","package-id":"img"}]}`

const (
	pipUA    = `pip/24.2 {"ci":true,"cpu":"x86_64","implementation":{"name":"CPython","version":"3.12.3"},"installer":{"name":"pip","version":"24.2"},"python":"3.12.3","system":{"name":"Linux","release":"6.5.0"}}`
	dockerUA = `docker/27.3.1 go/go1.22.7 git-commit/41ca978 kernel/6.8.0 os/linux arch/amd64 UpstreamClient(Docker-Client/27.3.1 \(linux\))`
)

// geoDBs writes small country and ASN databases for the test addresses.
func geoDBs(t *testing.T) []string {
	dir := t.TempDir()
	city, asn := filepath.Join(dir, "city.mmdb"), filepath.Join(dir, "asn.mmdb")
	geoiptest.WriteCity(t, city,
		geoiptest.Location{Network: "203.0.113.0/24", Country: "DE", Region: "BE"},
		geoiptest.Location{Network: "2001:db8::/32", Country: "JP", Region: "13"})
	geoiptest.WriteASN(t, asn,
		geoiptest.AS{Network: "203.0.113.0/24", Number: 3320, Org: "Deutsche Telekom AG"},
		geoiptest.AS{Network: "2001:db8::/32", Number: 16509, Org: "AMAZON-02"})
	return []string{"--geoip-db", city, "--asn-db", asn}
}

// runPortico runs a portico command and returns its output.
func runPortico(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("portico %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), errb.String()
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

func send(t *testing.T, method, url, host string, headers ...string) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	req.Host = host
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// total reads a total from a store through the store package.
func total(t *testing.T, st store.Reader, f store.Filter, m store.Measure) int64 {
	t.Helper()
	rows, err := st.Aggregate(context.Background(), store.Query{Filter: f, Measure: m})
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, r := range rows {
		n += r.Value
	}
	return n
}

// exported returns the stored events by id.
func exported(t *testing.T, st store.Exporter) map[event.ID]event.Event {
	t.Helper()
	out := map[event.ID]event.Event{}
	if _, err := st.Export(context.Background(), store.ExportQuery{}, func(r store.ExportRow) error {
		e, err := event.Parse(r.Data)
		if err != nil {
			return err
		}
		if _, dup := out[r.ID]; dup {
			return fmt.Errorf("event %v exported twice", r.ID)
		}
		out[r.ID] = e
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func openSQLite(t *testing.T, dir string) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Config{Dir: dir, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func openPostgres(t *testing.T, url string) *postgres.Store {
	t.Helper()
	st, err := postgres.New(postgres.Config{URL: url, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

// missingRows describes up to ten answered downloads that an export did
// not list, and the raw events the events table holds for each (their
// transaction, partition, time and id), so that a failure tells an export
// that skips rows from rows never stored;
// and the rows of the events table, the downloads exported more than
// once, and those exported that no load answered, which tell a store that
// counted some events twice from one that lost them.
func missingRows(url string, got map[int]int, loads ...map[int]time.Time) string {
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		return err.Error()
	}
	defer conn.Close(context.Background())
	var stored, ids int
	err = conn.QueryRow(context.Background(), "SELECT count(*), count(DISTINCT id) FROM events").Scan(&stored, &ids)
	var twice, unknown []int
	for n, c := range got {
		answered := false
		for _, l := range loads {
			_, ok := l[n]
			answered = answered || ok
		}
		if !answered {
			unknown = append(unknown, n)
		} else if c > 1 {
			twice = append(twice, n)
		}
	}
	lines := []string{fmt.Sprintf("events table: %d rows, %d ids (err %v); exported more than once: %d %v; exported, never answered: %d %v",
		stored, ids, err, len(twice), head(twice), len(unknown), head(unknown))}
	for _, l := range loads {
		for n, at := range l {
			if got[n] > 0 {
				continue
			}
			var rows int
			var where string
			err := conn.QueryRow(context.Background(), "SELECT count(*), coalesce(string_agg(concat_ws(' ', 'transaction', xid, tableoid::regclass, time, id), '; '), '') FROM events WHERE data LIKE $1",
				fmt.Sprintf(`%%"version":"%d"%%`, n)).Scan(&rows, &where)
			lines = append(lines, fmt.Sprintf("download %d answered at %s: %d raw events (err %v) %s", n, at.Format(time.RFC3339Nano), rows, err, where))
			if len(lines) == 11 {
				return strings.Join(lines, "\n")
			}
		}
	}
	return strings.Join(lines, "\n")
}

// head returns up to the first ten of ns, sorted.
func head(ns []int) []int {
	slices.Sort(ns)
	return ns[:min(len(ns), 10)]
}

// runningTransactions lists the server's transactions that hold a
// transaction id, oldest first: the ones an export waits for.
func runningTransactions(t *testing.T, url string) string {
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		return err.Error()
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), `SELECT concat_ws(' ', pid, datname, state, backend_xid, wait_event_type, wait_event,
		xact_start, now() - xact_start, left(query, 200))
		FROM pg_stat_activity WHERE backend_xid IS NOT NULL ORDER BY xact_start`)
	if err != nil {
		return err.Error()
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err.Error()
	}
	var snap string
	_ = conn.QueryRow(context.Background(), "SELECT pg_current_snapshot()::text").Scan(&snap)
	return "snapshot " + snap + "\n" + strings.Join(lines, "\n")
}

func today() store.Filter {
	now := time.Now().UTC()
	return store.Filter{From: now.Add(-24 * time.Hour), To: now.Add(2 * time.Hour)}
}

// addressForms returns the ways an address could be written down: as
// text, expanded, IPv4-mapped, raw bytes, and hex (as PostgreSQL shows
// bytea).
func addressForms(s string) []string {
	a := netip.MustParseAddr(s)
	forms := []string{a.String(), a.StringExpanded(), string(a.AsSlice()), hex.EncodeToString(a.AsSlice())}
	if a.Is4() {
		forms = append(forms, "::ffff:"+a.String())
	}
	return forms
}

func grepAddresses(t *testing.T, where string, data []byte, addrs []string) {
	t.Helper()
	for _, addr := range addrs {
		for _, form := range addressForms(addr) {
			if bytes.Contains(data, []byte(form)) {
				t.Errorf("%s contains the client address %s (as %q)", where, addr, form)
			}
		}
	}
}

// testPrivacy sends requests from known client addresses through a
// gateway with the given store, reads everything back with portico stats,
// and requires that the addresses appear nowhere: not in the store, the
// spool, the event stream, the logs or any output. dump returns every
// byte the store holds.
func testPrivacy(t *testing.T, storeArgs []string, dataDir string, open func() store.Store, dump func() []byte) {
	clients := []string{"203.0.113.77", "2001:db8::77"}
	args := append(append([]string{"--log-level", "debug", "--access-log", "--data", dataDir}, storeArgs...), geoDBs(t)...)
	g := start(t, analyticsManifest, args...)
	base := "http://" + g.addr
	send(t, "GET", base+"/dl/1.2.0/linux", "get.test", "X-Forwarded-For", clients[0], "User-Agent", pipUA)
	send(t, "GET", base+"/dl/1.2.0/linux", "get.test", "X-Forwarded-For", clients[0], "User-Agent", pipUA)
	send(t, "GET", base+"/v2/acme/rocket/manifests/1.0", "cr.test", "X-Forwarded-For", clients[1], "User-Agent", dockerUA)
	send(t, "GET", base+"/v2/acme/rocket/manifests/sha256:"+strings.Repeat("ab", 32), "cr.test", "X-Forwarded-For", clients[1], "User-Agent", dockerUA)
	send(t, "GET", base+"/dl/9.9.9/linux", "get.test", "X-Forwarded-For", clients[0], "DNT", "1")
	send(t, "GET", base+"/nothing/here", "get.test", "X-Forwarded-For", clients[1])
	send(t, "GET", base+"/dl/1.0/linux", "get.test", "X-Forwarded-For", clients[1], "User-Agent", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")

	st := open()
	waitFor(t, "the events in the store", 30*time.Second, func() bool {
		return total(t, st, store.Filter{From: today().From, To: today().To, Bots: store.BotsInclude}, store.Requests) == 5
	})
	f := today()
	if got := total(t, st, store.Filter{From: f.From, To: f.To, Kind: event.KindDocker}, store.Downloads); got != 1 {
		t.Errorf("docker pulls = %d, want 1: an index GET and a manifest GET by one client are one pull", got)
	}
	if got := total(t, st, store.Filter{From: f.From, To: f.To, Package: "bin"}, store.Downloads); got != 2 {
		t.Errorf("file downloads without robots = %d, want 2 (the DNT request is not counted)", got)
	}
	u, err := st.Uniques(context.Background(), store.Filter{From: f.From, To: f.To, Package: "bin"}, store.StepNone)
	if err != nil || len(u) != 1 || u[0].Value != 1 {
		t.Errorf("unique downloaders of bin = %v, %v; want 1", u, err)
	}
	// Enrichment used the addresses before dropping them.
	for _, e := range exported(t, st) {
		switch {
		case e.Kind == event.KindFile && !e.Client.Bot:
			if e.Origin.Country != "DE" || e.Origin.Region != "BE" || e.Origin.ASN != 3320 || e.Client.Name != "pip" || e.Source != event.SourceCI || e.Downloader == 0 {
				t.Errorf("pip download not enriched: client %+v origin %+v source %v", e.Client, e.Origin, e.Source)
			}
		case e.Kind == event.KindDocker:
			if e.Origin.Country != "JP" || e.Origin.Network != event.NetworkCloud || e.Source != event.SourceCloud || e.Client.Name != "docker" {
				t.Errorf("docker pull not enriched: client %+v origin %+v source %v", e.Client, e.Origin, e.Source)
			}
		}
	}

	loc := storeArgs
	if len(loc) == 0 {
		loc = []string{"--data", dataDir}
	}
	var outputs bytes.Buffer
	for _, args := range [][]string{
		append([]string{"stats", "--days", "2"}, loc...),
		append([]string{"stats", "--days", "2", "--format", "json", "--by", "country,org,source,client", "--bots", "include"}, loc...),
		append([]string{"stats", "--days", "2", "--format", "csv"}, loc...),
		append([]string{"stats", "export", "--format", "csv"}, loc...),
	} {
		out, errOut := runPortico(t, args...)
		outputs.WriteString(out)
		outputs.WriteString(errOut)
	}
	// An export from PostgreSQL shows events once every transaction that
	// began before them on the server has ended: wait for that.
	waitFor(t, "the events in an export", 30*time.Second, func() bool {
		out, errOut := runPortico(t, append([]string{"stats", "export"}, loc...)...)
		outputs.WriteString(out)
		outputs.WriteString(errOut)
		return strings.Count(out, `"id":"`) == 5
	})
	text := outputs.String()
	for _, want := range []string{"Deutsche Telekom AG", "DE", "JP", "cloud", `"id":"`, "unique downloaders"} {
		if !strings.Contains(text, want) {
			t.Errorf("portico stats output lacks %q", want)
		}
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	if err := g.wait(t); err != nil {
		t.Fatal(err)
	}
	grepAddresses(t, "portico stats output", outputs.Bytes(), clients)
	grepAddresses(t, "the event stream", []byte(g.stdout.String()), clients)
	grepAddresses(t, "the log", []byte(g.stderr.String()), clients)
	grepAddresses(t, "the store", dump(), clients)
	err = filepath.WalkDir(dataDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		grepAddresses(t, path, b, clients)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestPrivacySQLite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	testPrivacy(t, nil, dir, func() store.Store { return openSQLite(t, dir) }, func() []byte {
		var all []byte
		for _, name := range []string{"portico.db", "portico.db-wal", "portico.db-shm"} {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
			all = append(all, b...)
		}
		if len(all) == 0 {
			t.Fatal("no SQLite files to search")
		}
		return all
	})
}

func TestPrivacyPostgres(t *testing.T) {
	url := testenv.Postgres(t)
	testPrivacy(t, []string{"--database", url}, filepath.Join(t.TempDir(), "data"),
		func() store.Store { return openPostgres(t, url) },
		func() []byte { return dumpPostgres(t, url) })
}

// dumpPostgres returns the text of every row of every table.
func dumpPostgres(t *testing.T, url string) []byte {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// Other sessions' temporary tables (the gateway's staging table) are
	// readable by no one else, and empty outside a transaction.
	rows, err := conn.Query(ctx, `SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables
		WHERE schemaname NOT IN ('pg_catalog', 'information_schema') AND schemaname NOT LIKE 'pg\_temp\_%'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var all bytes.Buffer
	dumped := 0
	for _, table := range tables {
		rows, err := conn.Query(ctx, "SELECT t::text FROM "+table+" t")
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			all.WriteString(l)
			all.WriteByte('\n')
		}
		dumped += len(lines)
	}
	if dumped == 0 || len(tables) < 7 {
		t.Fatalf("dumped %d rows of %d tables: the store is not there", dumped, len(tables))
	}
	return all.Bytes()
}

// testFreshness requires an event to be visible to queries within five
// seconds of its request.
func testFreshness(t *testing.T, args []string, st store.Reader) {
	g := start(t, analyticsManifest, append([]string{"--events", "none"}, args...)...)
	for i := range 3 {
		version := fmt.Sprintf("fresh-%d", i)
		send(t, "GET", "http://"+g.addr+"/dl/"+version+"/linux", "get.test", "User-Agent", "curl/8.5.0")
		f := today()
		f.Where = []store.Cond{{Dim: store.DimVersion, Value: version}}
		took := waitFor(t, "a download visible to queries", 5*time.Second, func() bool { return total(t, st, f, store.Downloads) == 1 })
		t.Logf("download %d visible after %v", i, took.Round(time.Millisecond))
	}
}

func TestFreshnessSQLite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// Create the store first, so the test can open it before the gateway
	// has written anything.
	st, err := sqlite.Open(context.Background(), sqlite.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	testFreshness(t, []string{"--data", dir}, st)
}

func TestFreshnessPostgres(t *testing.T) {
	url := testenv.Postgres(t)
	testFreshness(t, []string{"--data", filepath.Join(t.TempDir(), "data"), "--database", url}, openPostgres(t, url))
}

// load sends numbered downloads to a gateway until stopped, and records
// when each response arrived.
type load struct {
	mu   sync.Mutex
	done map[int]time.Time
	next atomic.Int64
	stop chan struct{}
	wg   sync.WaitGroup
}

// startLoad numbers requests from first+1 on. Each worker waits pace
// between requests (0: none).
func startLoad(addrs []string, workers, first int, pace time.Duration) *load {
	l := &load{done: map[int]time.Time{}, stop: make(chan struct{})}
	l.next.Store(int64(first))
	client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for w := range workers {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				n := int(l.next.Add(1))
				req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s/dl/%d/linux", addrs[(n+w)%len(addrs)], n), nil)
				req.Host = "get.test"
				req.Header.Set("User-Agent", "curl/8.5.0")
				req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", n%50))
				resp, err := client.Do(req)
				if err != nil {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusTemporaryRedirect {
					l.mu.Lock()
					l.done[n] = time.Now()
					l.mu.Unlock()
				}
				if pace > 0 {
					time.Sleep(pace)
				}
			}
		})
	}
	return l
}

func (l *load) finish() map[int]time.Time {
	close(l.stop)
	l.wg.Wait()
	return l.done
}

// versionsIn counts the stored downloads by their version variable (the
// load's request number).
func versionsIn(t *testing.T, st store.Exporter) map[int]int {
	t.Helper()
	got := map[int]int{}
	for _, e := range exported(t, st) {
		var n int
		if _, err := fmt.Sscanf(e.ArtifactVersion(), "%d", &n); err == nil {
			got[n]++
		}
	}
	return got
}

// TestKill9 kills the gateway with SIGKILL under load, starts it again on
// the same data directory, and requires every download answered more
// than the flush interval before the kill to be in the store, once.
func TestKill9(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	args := []string{"--data", dir, "--events", "none", "--event-flush-interval", "1s"}
	g := start(t, analyticsManifest, args...)
	l := startLoad([]string{g.addr}, 4, 0, 0)
	time.Sleep(3 * time.Second)
	killedAt := time.Now()
	if err := g.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	g.wait(t)
	done := l.finish()
	if len(done) < 50 {
		t.Fatalf("only %d requests were answered before the kill; the test needs more", len(done))
	}
	// The restarted gateway replays what the spool holds.
	g2 := start(t, analyticsManifest, args...)
	st := openSQLite(t, dir)
	var missing []int
	waitFor(t, "the spool replayed", 60*time.Second, func() bool {
		got := versionsIn(t, st)
		missing = missing[:0]
		for n, at := range done {
			if killedAt.Sub(at) > time.Second && got[n] == 0 {
				missing = append(missing, n)
			}
		}
		return len(missing) == 0
	})
	got := versionsIn(t, st)
	kept := 0
	for n, c := range got {
		if c != 1 {
			t.Errorf("download %d stored %d times", n, c)
		}
		if _, ok := done[n]; ok {
			kept++
		}
	}
	_ = g2.cmd.Process.Signal(syscall.SIGTERM)
	g2.wait(t)
	t.Logf("%d downloads answered before kill -9; %d of them stored after the restart", len(done), kept)
}

// outage is how long the store is down in TestStoreOutage; CI sets
// minutes with PORTICO_TEST_OUTAGE.
func outage(t *testing.T) time.Duration {
	if v := os.Getenv("PORTICO_TEST_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("PORTICO_TEST_OUTAGE: %v", err)
		}
		return d
	}
	return 10 * time.Second
}

func readyz(t *testing.T, g *gateway) string {
	resp, err := http.Get("http://" + g.opsAddr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz = %d during a store outage, want 200: downloads do not depend on the store", resp.StatusCode)
	}
	return string(b)
}

// TestStoreOutage takes PostgreSQL away from a gateway under load for a
// while (PORTICO_TEST_OUTAGE), then brings it back; then takes it away
// again and restarts the gateway before it returns. Every download
// answered ends up in the store exactly once.
func TestStoreOutage(t *testing.T) {
	url := testenv.Postgres(t)
	proxy, viaProxy := testenv.PostgresProxy(t, url)
	dir := filepath.Join(t.TempDir(), "data")
	args := []string{"--data", dir, "--database", viaProxy, "--events", "none"}
	g := start(t, analyticsManifest, args...)
	st := openPostgres(t, url)
	l := startLoad([]string{g.addr}, 2, 0, 2*time.Millisecond)

	time.Sleep(time.Second)
	proxy.Cut()
	down := outage(t)
	t.Logf("store down for %v", down)
	time.Sleep(down / 2)
	if body := readyz(t, g); !strings.Contains(body, "unreachable") || !strings.Contains(body, "spooled") {
		t.Errorf("/readyz during the outage does not say so:\n%s", body)
	}
	time.Sleep(down / 2)
	proxy.Restore(t)
	time.Sleep(time.Second)
	done := l.finish()
	waitFor(t, "every download in the store after the outage", 2*time.Minute, func() bool {
		return total(t, st, today(), store.Downloads) == int64(len(done))
	})

	// Down again, and the gateway restarts before the store is back.
	proxy.Cut()
	l = startLoad([]string{g.addr}, 2, 1<<30, 2*time.Millisecond)
	time.Sleep(2 * time.Second)
	more := l.finish()
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	if err := g.wait(t); err != nil {
		t.Fatal(err)
	}
	proxy.Restore(t)
	g = start(t, analyticsManifest, args...)
	want := int64(len(done) + len(more))
	waitFor(t, "every download in the store after the restart", 2*time.Minute, func() bool {
		return total(t, st, today(), store.Downloads) == want
	})
	// An export shows events once older transactions on the server end.
	var got map[int]int
	start := time.Now()
	for got = versionsIn(t, st); len(got) < int(want); got = versionsIn(t, st) {
		if time.Since(start) > 2*time.Minute {
			t.Fatalf("every download in an export: %d of %d after %v; transactions on the server:\n%s\nmissing downloads:\n%s",
				len(got), want, time.Since(start), runningTransactions(t, url), missingRows(url, got, done, more))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for n := range done {
		if got[n] != 1 {
			t.Errorf("download %d stored %d times, want once", n, got[n])
		}
	}
	for n := range more {
		if got[n] != 1 {
			t.Errorf("download %d (spooled across the restart) stored %d times, want once", n, got[n])
		}
	}
	if len(got) != int(want) {
		t.Errorf("%d downloads stored, want %d", len(got), want)
	}
	// The totals reached want while the spool was replayed; they must stay
	// there once it is done.
	if n := total(t, st, today(), store.Downloads); n != want {
		t.Errorf("after the export, the store counts %d downloads, want %d", n, want)
	}
	t.Logf("%d downloads during and after the outage, %d across the restart", len(done), len(more))
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	g.wait(t)
}

// TestThreeGateways runs three gateway processes on one PostgreSQL store,
// under concurrent load from the same clients, and requires exact totals,
// exact unique downloaders, and docker pulls folded across processes.
func TestThreeGateways(t *testing.T) {
	url := testenv.Postgres(t)
	var gs []*gateway
	var addrs []string
	for range 3 {
		g := start(t, analyticsManifest, "--data", filepath.Join(t.TempDir(), "data"), "--database", url, "--events", "none")
		gs = append(gs, g)
		addrs = append(addrs, g.addr)
	}
	l := startLoad(addrs, 6, 0, 0)
	// Meanwhile, each of 20 docker clients pulls a multi-platform image:
	// the index GET through one gateway, the manifest GET through another.
	for c := range 20 {
		client := fmt.Sprintf("203.0.113.%d", c+1)
		send(t, "GET", "http://"+addrs[c%3]+"/v2/acme/rocket/manifests/1.0", "cr.test", "X-Forwarded-For", client, "User-Agent", dockerUA)
		send(t, "GET", "http://"+addrs[(c+1)%3]+"/v2/acme/rocket/manifests/sha256:"+strings.Repeat("cd", 32), "cr.test", "X-Forwarded-For", client, "User-Agent", dockerUA)
	}
	time.Sleep(3 * time.Second)
	done := l.finish()
	for _, g := range gs {
		_ = g.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, g := range gs {
		if err := g.wait(t); err != nil {
			t.Fatal(err)
		}
	}
	st := openPostgres(t, url)
	f := today()
	f.Package = "bin"
	if got := total(t, st, f, store.Downloads); got != int64(len(done)) {
		t.Errorf("three gateways answered %d downloads, the store counts %d", len(done), got)
	}
	clients := map[int]bool{}
	for n := range done {
		clients[n%50] = true
	}
	if u, err := st.Uniques(context.Background(), f, store.StepNone); err != nil || len(u) != 1 || u[0].Value != int64(len(clients)) {
		t.Errorf("unique downloaders = %v (%v), want %d: the load came from %d addresses with one user agent", u, err, len(clients), len(clients))
	}
	f.Package = "img"
	if got := total(t, st, f, store.Downloads); got != 20 {
		t.Errorf("docker pulls = %d, want 20: each client's two GETs through two gateways are one pull", got)
	}
	t.Logf("%d downloads through three gateways", len(done))
}

// TestStatsCommand checks portico stats' options and errors on a store
// with a few downloads.
func TestStatsCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	g := start(t, analyticsManifest, append([]string{"--data", dir, "--events", "none"}, geoDBs(t)...)...)
	for i, v := range []string{"1.0", "1.0", "2.0"} {
		send(t, "GET", "http://"+g.addr+"/dl/"+v+"/linux", "get.test", "X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i+1), "User-Agent", "curl/8.5.0")
	}
	send(t, "GET", "http://"+g.addr+"/dl/3.0/linux", "get.test", "X-Forwarded-For", "2001:db8::9", "User-Agent", "curl/8.5.0")
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	if err := g.wait(t); err != nil {
		t.Fatal(err)
	}
	out, _ := runPortico(t, "stats", "--data", dir, "--days", "1", "--by", "country,version", "--where", "country=DE")
	for _, want := range []string{"total                             3", "By country", "DE", "Not available with --where on another dimension: by version"} {
		if !strings.Contains(out, want) {
			t.Errorf("portico stats --where country=DE lacks %q:\n%s", want, out)
		}
	}
	out, _ = runPortico(t, "stats", "--data", dir, "--days", "1", "--interval", "hour", "--format", "csv", "--by", "version", "--top", "1")
	if !strings.Contains(out, "total,,,4\n") || !strings.Contains(out, "by_version,,1.0,2\n") || strings.Contains(out, "by_version,,2.0") {
		t.Errorf("portico stats --format csv --top 1:\n%s", out)
	}
	for _, args := range [][]string{
		{"stats", "--data", dir, "--interval", "year"},
		{"stats", "--data", dir, "--by", "colour"},
		{"stats", "--data", dir, "--where", "nonsense"},
		{"stats", "--data", dir, "--from", "2026-02-30"},
		{"stats", "--data", dir, "--kind", "rpm"},
		{"stats", "export", "--data", dir, "--format", "xml"},
		{"stats", "--database", "mysql://x"},
	} {
		cmd := exec.Command(bin, args...)
		b, err := cmd.CombinedOutput()
		if code := exitCode(err); code != 2 || !strings.Contains(string(b), "portico stats") {
			t.Errorf("portico %s: exit %d, want 2 with an error message:\n%s", strings.Join(args, " "), code, b)
		}
	}
	cmd := exec.Command(bin, "stats", "--data", filepath.Join(t.TempDir(), "nothing-here"))
	b, err := cmd.CombinedOutput()
	if code := exitCode(err); code != 1 || !strings.Contains(string(b), "no analytics store in") {
		t.Errorf("portico stats on an empty directory: exit %d:\n%s", code, b)
	}
}

// TestReadyRequiresStore: with --ready-requires-store, /readyz fails while
// the store is unreachable and recovers with it; downloads are served
// throughout.
func TestReadyRequiresStore(t *testing.T) {
	url := testenv.Postgres(t)
	proxy, viaProxy := testenv.PostgresProxy(t, url)
	g := start(t, analyticsManifest, "--data", filepath.Join(t.TempDir(), "data"),
		"--database", viaProxy, "--events", "none", "--ready-requires-store")
	status := func() int {
		resp, err := http.Get("http://" + g.opsAddr + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor(t, "/readyz 200 with the store up", time.Minute, func() bool { return status() == http.StatusOK })
	proxy.Cut()
	l := startLoad([]string{g.addr}, 1, 0, 5*time.Millisecond)
	waitFor(t, "/readyz 503 with the store down", time.Minute, func() bool { return status() == http.StatusServiceUnavailable })
	proxy.Restore(t)
	waitFor(t, "/readyz 200 once the store is back", 2*time.Minute, func() bool { return status() == http.StatusOK })
	if done := l.finish(); len(done) == 0 {
		t.Error("no download was served while the store was down")
	}
}

// Command manyrules measures a gateway process serving many rules: the
// time until it is ready, its resident memory (VmRSS) and peak (VmHWM)
// once ready and after it served every rule, and, with the rules in a
// store, the delay from a change in the store to routing and the memory
// after a series of changes. Every gateway runs in its own process,
// one after another, in one run:
//
//   - plain: bench/plainmatch, the same rules in a plain Go program, the
//     baseline;
//   - for each Portico binary: the rules as a manifest, and as the
//     packages of the embedded store (SQLite) and, with -postgres, of
//     PostgreSQL.
//
// The rules are those of route.BenchmarkRedirect: file-v1 rules
// "/pkgN/{version}/{os}/pkgN.tar.gz" over d0.example.com, d1… Portico
// runs with --events none and, with the manifest, --data none; with a
// store, downloads are still recorded in it, so the memory after the
// requests includes the store's side of recording 200,000 events.
//
//	go run ./bench/manyrules                       # 100,000 rules over 10,000 domains
//	go run ./bench/manyrules -postgres postgres://postgres@127.0.0.1:5432/postgres
//	go run ./bench/manyrules -portico before=/tmp/old/portico,after=/tmp/new/portico
//
// With -postgres it creates a database of its own on that server and
// drops it at the end. Figures depend on the machine and its load:
// compare them within one run. See docs/scaling.md for results.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"portico/internal/control"
	"portico/internal/manifest"
	"portico/internal/store/postgres"
	"portico/internal/store/sqlite"
	"portico/internal/store/storetest"
)

var (
	nRules    = flag.Int("rules", 100_000, "rules")
	nDomains  = flag.Int("domains", 10_000, "domains the rules are spread over")
	binaries  = flag.String("portico", "", "comma-separated label=path of Portico binaries to measure; by default one built from this tree")
	pgServer  = flag.String("postgres", "", "URL of a PostgreSQL server where a database may be created, to measure routing from PostgreSQL too")
	requests  = flag.Int("requests", 200_000, "requests served after ready, spread over every rule")
	writes    = flag.Int("writes", 20, "packages changed in the store, one after another, after the requests")
	onlyKinds = flag.String("sources", "manifest,sqlite,postgres", "comma-separated sources of rules to measure Portico with")
	profile   = flag.String("profile", "", "`directory` to save each gateway's heap profile in once it is ready (with --pprof)")
)

func main() {
	flag.Parse()
	log.SetFlags(0)
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "manyrules-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)

	bins := parseBinaries(*binaries, tmp)
	plain := build(tmp, "./bench/plainmatch")
	data := rulesManifest(*nRules, *nDomains)
	manifestPath := filepath.Join(tmp, "manifest.json")
	if err := os.WriteFile(manifestPath, data, 0o644); err != nil {
		log.Fatal(err)
	}
	m, err := manifest.Decode(manifestPath, data)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d rules over %d domains, a manifest of %.1f MB\n\n", *nRules, *nDomains, float64(len(data))/1e6)

	sources := strings.Split(*onlyKinds, ",")
	var seeded seeds
	if slices.Contains(sources, "sqlite") {
		seeded.sqlite = seedSQLite(ctx, tmp, m.Rules)
	}
	if *pgServer != "" && slices.Contains(sources, "postgres") {
		seeded.postgres = seedPostgres(ctx, m.Rules)
		defer dropDatabase(seeded.postgres)
	}

	var results []result
	results = append(results, measurePlain(plain, manifestPath))
	for _, b := range bins {
		for _, kind := range sources {
			if kind == "postgres" && seeded.postgres == "" {
				continue
			}
			results = append(results, measurePortico(ctx, b, kind, manifestPath, &seeded, tmp))
		}
	}
	report(results)
}

type binary struct{ label, path string }

func parseBinaries(spec, tmp string) []binary {
	if spec == "" {
		return []binary{{"portico", build(tmp, "./cmd/portico")}}
	}
	var out []binary
	for _, item := range strings.Split(spec, ",") {
		label, path, ok := strings.Cut(item, "=")
		if !ok {
			label, path = filepath.Base(item), item
		}
		out = append(out, binary{label, path})
	}
	return out
}

// build builds the command pkg of this module into dir.
func build(dir, pkg string) string {
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		log.Fatalf("go build %s: %v", pkg, err)
	}
	return out
}

// rulesManifest is n file-v1 rules over domains hosts.
func rulesManifest(n, domains int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"rules":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"type":"file-v1","domain":"d%d.example.com","incoming-path":"/pkg%d/{version}/{os}/pkg%d.tar.gz","outgoing-url":"https://dl.example.com/pkg%d/{version}/pkg%d-{os}.tar.gz","package-id":"p%d"}`,
			i%domains, i, i, i, i, i)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// request returns rule i's host, path and the redirect it answers with.
func request(i int, mirror bool) (host, path, location string) {
	host = fmt.Sprintf("d%d.example.com", i%*nDomains)
	path = fmt.Sprintf("/pkg%d/v1.2.0/linux/pkg%d.tar.gz", i, i)
	location = fmt.Sprintf("https://dl.example.com/pkg%d/v1.2.0/pkg%d-linux.tar.gz", i, i)
	if mirror {
		location = fmt.Sprintf("https://mirror.example.com/pkg%d/v1.2.0/linux.tar.gz", i)
	}
	return host, path, location
}

// seeds are the stores holding the rules as packages, to start each
// measurement from a copy of.
type seeds struct {
	sqlite   string // a data directory
	postgres string // a database URL
}

func seedSQLite(ctx context.Context, tmp string, rules []manifest.Rule) string {
	dir := filepath.Join(tmp, "seed-sqlite")
	t0 := time.Now()
	st, err := sqlite.Open(ctx, sqlite.Config{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	if err := storetest.SeedPackages(ctx, st, "bench", rules); err != nil {
		log.Fatal(err)
	}
	if err := st.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("SQLite seeded with %d packages in %v\n", len(rules), time.Since(t0).Round(time.Millisecond))
	return dir
}

func seedPostgres(ctx context.Context, rules []manifest.Rule) string {
	url := createDatabase("manyrules_seed", "")
	t0 := time.Now()
	st, err := postgres.Open(ctx, postgres.Config{URL: url})
	if err != nil {
		log.Fatal(err)
	}
	if err := storetest.SeedPackages(ctx, st, "bench", rules); err != nil {
		log.Fatal(err)
	}
	st.Close()
	fmt.Printf("PostgreSQL seeded with %d packages in %v\n", len(rules), time.Since(t0).Round(time.Millisecond))
	return url
}

// createDatabase creates a database on the -postgres server, empty or a
// copy of template, and returns its URL.
func createDatabase(name, template string) string {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, *pgServer)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close(ctx)
	name = fmt.Sprintf("%s_%d", name, os.Getpid())
	_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	sql := "CREATE DATABASE " + name
	if template != "" {
		sql += " TEMPLATE " + template
	}
	if _, err := conn.Exec(ctx, sql); err != nil {
		log.Fatalf("%s: %v", sql, err)
	}
	u, err := url.Parse(*pgServer)
	if err != nil {
		log.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func dropDatabase(dbURL string) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, *pgServer)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+strings.TrimPrefix(u.Path, "/")+" WITH (FORCE)")
}

func copyDir(from, to string) {
	if err := os.CopyFS(to, os.DirFS(from)); err != nil {
		log.Fatal(err)
	}
}

// result is one gateway's measurements. Memory is in KiB.
type result struct {
	name             string
	ready            time.Duration
	rss, hwm         int
	rssLoad, hwmLoad int
	served           int
	wrong            int64
	// After the writes, for stores.
	delays             []time.Duration
	rssWrite, hwmWrite int
}

type proc struct {
	cmd  *exec.Cmd
	logs *os.File
}

func start(name string, args ...string) *proc {
	logs, err := os.CreateTemp("", "manyrules-log-")
	if err != nil {
		log.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	return &proc{cmd, logs}
}

func (p *proc) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
	p.logs.Close()
	os.Remove(p.logs.Name())
}

// tail returns the end of the process's logs, for errors.
func (p *proc) tail() string {
	b, _ := os.ReadFile(p.logs.Name())
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// memory reads VmRSS and VmHWM of pid, in KiB.
func memory(pid int) (rss, hwm int) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	return rss, hwm
}

func freePort() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

var client = &http.Client{
	Transport:     &http.Transport{MaxIdleConnsPerHost: 16},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       10 * time.Second,
}

// get asks the gateway at addr for path on host and returns the status
// and Location.
func get(addr, host, path string) (int, string, error) {
	req, err := http.NewRequest("GET", "http://"+addr+path, nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location"), nil
}

// waitFor calls ok until it reports true, and returns how long that
// took from since.
func waitFor(p *proc, since time.Time, limit time.Duration, ok func() bool) time.Duration {
	for !ok() {
		if time.Since(since) > limit {
			log.Fatalf("not ready after %v; logs:\n%s", limit, p.tail())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(since)
}

// answers reports whether the gateway at addr redirects rule i as it
// should.
func answers(addr string, i int, mirror bool) bool {
	host, path, want := request(i, mirror)
	st, loc, err := get(addr, host, path)
	return err == nil && st == http.StatusTemporaryRedirect && loc == want
}

// traffic sends n requests spread over every rule from 8 clients, and
// returns how many were answered wrongly.
func traffic(addr string, n int) int64 {
	var wrong atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				k := int(next.Add(1)) - 1
				if k >= n {
					return
				}
				// A stride that visits every rule before any twice.
				if i := (k * 7919) % *nRules; !answers(addr, i, false) {
					wrong.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return wrong.Load()
}

func measurePlain(bin, manifestPath string) result {
	addr := freePort()
	t0 := time.Now()
	p := start(bin, "-listen", addr, "-manifest", manifestPath)
	defer p.stop()
	r := result{name: "plain Go matcher"}
	r.ready = waitFor(p, t0, 5*time.Minute, func() bool { return answers(addr, *nRules/2, false) })
	r.rss, r.hwm = memory(p.cmd.Process.Pid)
	r.wrong, r.served = traffic(addr, *requests), *requests
	r.rssLoad, r.hwmLoad = memory(p.cmd.Process.Pid)
	fmt.Printf("measured %s\n", r.name)
	return r
}

func measurePortico(ctx context.Context, b binary, kind, manifestPath string, seeded *seeds, tmp string) result {
	addr, ops := freePort(), freePort()
	dir, err := os.MkdirTemp(tmp, "data-")
	if err != nil {
		log.Fatal(err)
	}
	args := []string{"serve", "--listen", addr, "--ops-listen", ops, "--app-listen", "off", "--events", "none", "--reload-interval", "100ms"}
	if *profile != "" {
		args = append(args, "--pprof")
	}
	var st control.Store
	switch kind {
	case "manifest":
		args = append(args, "--manifest", manifestPath, "--data", "none")
	case "sqlite":
		copyDir(seeded.sqlite, dir)
		args = append(args, "--data", dir)
	case "postgres":
		u, _ := url.Parse(seeded.postgres)
		dbURL := createDatabase("manyrules", strings.TrimPrefix(u.Path, "/"))
		defer dropDatabase(dbURL)
		args = append(args, "--data", dir, "--database", dbURL)
		s, err := postgres.Open(ctx, postgres.Config{URL: dbURL})
		if err != nil {
			log.Fatal(err)
		}
		defer s.Close()
		st = s
	default:
		log.Fatalf("-sources: unknown source %q", kind)
	}
	t0 := time.Now()
	p := start(b.path, args...)
	defer p.stop()
	r := result{name: b.label + ", " + kind}
	r.ready = waitFor(p, t0, 5*time.Minute, func() bool {
		resp, err := client.Get("http://" + ops + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK && answers(addr, *nRules/2, false)
	})
	pid := p.cmd.Process.Pid
	r.rss, r.hwm = memory(pid)
	if *profile != "" {
		saveProfile(ops, filepath.Join(*profile, strings.NewReplacer(", ", "-", " ", "-").Replace(r.name)+".heap"))
	}
	r.wrong, r.served = traffic(addr, *requests), *requests
	r.rssLoad, r.hwmLoad = memory(pid)
	if kind == "sqlite" {
		s, err := sqlite.Open(ctx, sqlite.Config{Dir: dir})
		if err != nil {
			log.Fatal(err)
		}
		defer s.Close()
		st = s
	}
	if st != nil {
		for w := range *writes {
			i := (w*104729 + 17) % *nRules
			t := time.Now()
			if err := switchBackend(ctx, st, i); err != nil {
				log.Fatal(err)
			}
			r.delays = append(r.delays, waitFor(p, t, time.Minute, func() bool { return answers(addr, i, true) }))
		}
		r.rssWrite, r.hwmWrite = memory(pid)
	}
	fmt.Printf("measured %s\n", r.name)
	return r
}

// saveProfile saves the heap profile of the gateway whose ops listener
// is ops in path, with the live heap counted at a collection.
func saveProfile(ops, path string) {
	resp, err := client.Get("http://" + ops + "/debug/pprof/heap?gc=1")
	if err != nil {
		log.Fatalf("heap profile: %v", err)
	}
	defer resp.Body.Close()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		log.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		log.Fatalf("heap profile: %v", err)
	}
}

// switchBackend points package i at another host, as an API write that
// changes a package's rule does.
func switchBackend(ctx context.Context, st control.Store, i int) error {
	id := fmt.Sprintf("p%d", i)
	return st.Update(ctx, func(tx control.Tx) error {
		p, err := tx.Package(ctx, id)
		if err != nil {
			return err
		}
		var rule struct {
			Domain string `json:"domain"`
		}
		if err := json.Unmarshal(p.Rule, &rule); err != nil {
			return err
		}
		p.Rule = fmt.Appendf(nil, `{"type":"file-v1","domain":%q,"incoming-path":"/pkg%d/{version}/{os}/pkg%d.tar.gz","outgoing-url":"https://mirror.example.com/pkg%d/{version}/{os}.tar.gz"}`, rule.Domain, i, i, i)
		p.Updated = time.Now().UTC()
		if err := tx.UpdatePackage(ctx, p); err != nil {
			return err
		}
		tx.RoutingChanged()
		return nil
	})
}

func report(results []result) {
	base := results[0]
	mib := func(kib int) string { return fmt.Sprintf("%.0f", float64(kib)/1024) }
	ratio := func(a, b float64) string {
		if b == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f×", a/b)
	}
	fmt.Printf("\nMemory in MiB; ratios against %s in this run.\n\n", base.name)
	fmt.Println("| gateway | ready | RSS ready | VmHWM ready | RSS after requests | VmHWM after requests | wrong answers |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, r := range results {
		fmt.Printf("| %s | %v (%s) | %s (%s) | %s (%s) | %s (%s) | %s (%s) | %d of %d |\n", r.name,
			r.ready.Round(10*time.Millisecond), ratio(float64(r.ready), float64(base.ready)),
			mib(r.rss), ratio(float64(r.rss), float64(base.rss)),
			mib(r.hwm), ratio(float64(r.hwm), float64(base.hwm)),
			mib(r.rssLoad), ratio(float64(r.rssLoad), float64(base.rssLoad)),
			mib(r.hwmLoad), ratio(float64(r.hwmLoad), float64(base.hwmLoad)),
			r.wrong, r.served)
	}
	var withWrites []result
	for _, r := range results {
		if len(r.delays) > 0 {
			withWrites = append(withWrites, r)
		}
	}
	if len(withWrites) == 0 {
		return
	}
	fmt.Printf("\n%d packages changed in the store, one after another, each waited for on the gateway (which polls every 100ms; PostgreSQL also notifies):\n\n", *writes)
	fmt.Println("| gateway | change to routing, p50 | max | RSS after | VmHWM after |")
	fmt.Println("|---|---|---|---|---|")
	for _, r := range withWrites {
		d := slices.Clone(r.delays)
		slices.Sort(d)
		fmt.Printf("| %s | %v | %v | %s | %s |\n", r.name, d[len(d)/2].Round(time.Millisecond), d[len(d)-1].Round(time.Millisecond), mib(r.rssWrite), mib(r.hwmWrite))
	}
}

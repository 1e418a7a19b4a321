// Command fault runs Portico's load and fault scenarios against the real
// binary and prints what was sent, what failed and what was lost. The
// results are kept in docs/reliability.md; bench/fault.sh builds the
// binary, raises the file limit and runs every scenario.
//
//	fault -portico BIN conns      [-n 10000]
//	fault -portico BIN slowloris  [-slow 2000]
//	fault -portico BIN upstream
//	fault -portico BIN outage     [-outage 5m]
//	fault -portico BIN diskfull
//	fault -portico BIN reload
//
// Every scenario listens on free ports of 127.0.0.1 only and removes what
// it created. A scenario exits with status 1 when its target is missed:
// a request failed that a healthy upstream could have served, an event
// was lost, or a client took a wrong body for a complete one.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

var portico = flag.String("portico", "", "the portico binary to run (required)")

func main() {
	log.SetFlags(log.Ltime)
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: fault -portico BIN conns|slowloris|upstream|outage|diskfull|reload [flags]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *portico == "" || flag.NArg() < 1 {
		flag.Usage()
		os.Exit(2)
	}
	scenarios := map[string]func(args []string) error{
		"conns":     conns,
		"slowloris": slowloris,
		"upstream":  upstreamFaults,
		"outage":    outage,
		"diskfull":  diskFull,
		"reload":    reloadAndTerm,
		// The slow clients of slowloris, in a process of their own.
		"slowclients": slowClients,
	}
	run, ok := scenarios[flag.Arg(0)]
	if !ok {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Args()[1:]); err != nil {
		log.Printf("FAIL %s: %v", flag.Arg(0), err)
		os.Exit(1)
	}
	log.Printf("PASS %s", flag.Arg(0))
}

// redirectManifest is one file-v1 rule: the cheapest download, so that the
// scenarios load the gateway rather than an upstream.
const redirectManifest = `{"rules":[{"type":"file-v1","domain":"get.test","incoming-path":"/dl/{version}/{os}","outgoing-url":"https://files.test/{version}/{os}","package-id":"bin"}]}`

// redirectPath is a download of redirectManifest.
func redirectPath(n int) string { return fmt.Sprintf("/dl/v%d/linux", n) }

// gateway is a running portico process.
type gateway struct {
	cmd    *exec.Cmd
	addr   string // gateway listener
	ops    string // ops listener
	dir    string
	stderr *os.File
	stdout *os.File      // the events, with --events stdout
	done   chan struct{} // closed when the process has exited
	err    error         // its exit, once done is closed
}

// freePort returns an address of 127.0.0.1 nothing listens on.
func freePort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startGateway runs portico serve on manifest (written to dir) with args,
// and waits for /readyz.
func startGateway(dir, manifest string, args ...string) (*gateway, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	mf := filepath.Join(dir, "manifest.json")
	if _, err := os.Stat(mf); err != nil {
		if err := os.WriteFile(mf, []byte(manifest), 0o644); err != nil {
			return nil, err
		}
	}
	g := &gateway{addr: freePort(), ops: freePort(), dir: dir, done: make(chan struct{})}
	stderr, err := os.Create(filepath.Join(dir, fmt.Sprintf("portico-%d.log", time.Now().UnixNano())))
	if err != nil {
		return nil, err
	}
	g.stderr = stderr
	if g.stdout, err = os.Create(strings.TrimSuffix(stderr.Name(), ".log") + ".jsonl"); err != nil {
		return nil, err
	}
	all := append([]string{"serve", "--manifest", mf, "--listen", g.addr, "--ops-listen", g.ops, "--app-listen", "off"}, args...)
	g.cmd = exec.Command(*portico, all...)
	g.cmd.Stdout = g.stdout
	g.cmd.Stderr = stderr
	if err := g.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { g.err = g.cmd.Wait(); close(g.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + g.ops + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return g, nil
			}
		}
		select {
		case <-g.done:
			return nil, fmt.Errorf("portico exited before it was ready: %v; log:\n%s", g.err, g.log())
		case <-time.After(50 * time.Millisecond):
		}
	}
	g.kill()
	return nil, fmt.Errorf("portico not ready after 30s; log:\n%s", g.log())
}

func (g *gateway) log() string {
	b, _ := os.ReadFile(g.stderr.Name())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// stop sends SIGTERM and waits for the process.
func (g *gateway) stop() error {
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
		if g.err != nil {
			return fmt.Errorf("portico: %v; log:\n%s", g.err, g.log())
		}
		return nil
	case <-time.After(90 * time.Second):
		g.kill()
		return errors.New("portico did not exit within 90s of SIGTERM")
	}
}

// kill ends the process if it still runs; the deferred clean-up of every
// scenario.
func (g *gateway) kill() {
	_ = g.cmd.Process.Kill()
	<-g.done
	g.stderr.Close()
	g.stdout.Close()
}

// rss returns the process's resident set, in KiB.
func (g *gateway) rss() int64 { return procStatus(g.cmd.Process.Pid, "VmRSS:") }

// hwm returns the process's peak resident set, in KiB.
func (g *gateway) hwm() int64 { return procStatus(g.cmd.Process.Pid, "VmHWM:") }

func procStatus(pid int, key string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, key) {
			f := strings.Fields(line)
			if len(f) >= 2 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n
			}
		}
	}
	return 0
}

// metric sums the samples of a metric on the ops listener whose name and
// labels start with prefix (`portico_events_dropped_total`,
// `portico_requests_total{kind="file"`).
func (g *gateway) metric(prefix string) (float64, error) {
	resp, err := http.Get("http://" + g.ops + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		rest := line[len(prefix):]
		if rest != "" && rest[0] != ' ' && rest[0] != '{' && rest[0] != ',' && rest[0] != '}' {
			continue // a longer name
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return 0, fmt.Errorf("metric line %q: %w", line, err)
		}
		sum += v
	}
	return sum, sc.Err()
}

// mustMetric is metric for reports: a failed scrape reads as -1.
func (g *gateway) mustMetric(prefix string) float64 {
	v, err := g.metric(prefix)
	if err != nil {
		log.Printf("scraping %s: %v", prefix, err)
		return -1
	}
	return v
}

// client returns an HTTP client with room for n keep-alive connections.
func client(n int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			MaxIdleConns:        n,
			MaxIdleConnsPerHost: n,
			DisableCompression:  true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       2 * time.Minute,
	}
}

// load sends downloads of redirectManifest from workers goroutines, each
// on its own keep-alive connection, every pause (0: back to back), until
// stop is closed. It records each request's latency and result.
type load struct {
	mu        sync.Mutex
	ok        int // answered 307
	failed    []string
	latencies []time.Duration
	wg        sync.WaitGroup
}

func startLoad(addr string, workers int, pause time.Duration, stop <-chan struct{}) *load {
	l := &load{}
	c := client(workers)
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("GET", "http://"+addr+redirectPath(w*1_000_000+i), nil)
				req.Host = "get.test"
				req.Header.Set("User-Agent", "curl/8.5.0")
				t0 := time.Now()
				resp, err := c.Do(req)
				d := time.Since(t0)
				var problem string
				if err != nil {
					problem = err.Error()
				} else {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err != nil {
						problem = err.Error()
					} else if resp.StatusCode != http.StatusTemporaryRedirect {
						problem = "status " + resp.Status
					}
				}
				l.mu.Lock()
				if problem == "" {
					l.ok++
					l.latencies = append(l.latencies, d)
				} else {
					l.failed = append(l.failed, problem)
				}
				l.mu.Unlock()
				if pause > 0 {
					time.Sleep(pause)
				}
			}
		}()
	}
	return l
}

// wait waits for the workers to stop after stop was closed.
func (l *load) wait() { l.wg.Wait() }

// percentile returns the p-th percentile (0 < p < 100) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}

// summarize groups error texts: the first few of each kind, and counts.
func summarize(errs []string) string {
	if len(errs) == 0 {
		return "none"
	}
	counts := map[string]int{}
	for _, e := range errs {
		if len(e) > 120 {
			e = e[:120]
		}
		counts[e]++
	}
	var b bytes.Buffer
	for e, n := range counts {
		fmt.Fprintf(&b, "\n    %d× %s", n, e)
	}
	return b.String()
}

// waitUntil polls cond every 100ms until it holds or d passes.
func waitUntil(ctx context.Context, d time.Duration, cond func() bool) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		if cond() {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// tempDir makes a directory for one scenario.
func tempDir(name string) string {
	dir, err := os.MkdirTemp("", "portico-fault-"+name+"-")
	if err != nil {
		log.Fatal(err)
	}
	return dir
}

func ctxBackground() context.Context { return context.Background() }

// removeDir removes a scenario's directory, unless FAULT_KEEP is set to
// look at the gateway's logs afterwards.
func removeDir(dir string) {
	if os.Getenv("FAULT_KEEP") != "" {
		log.Printf("kept %s", dir)
		return
	}
	os.RemoveAll(dir)
}

// procCPU returns the CPU time, user and system, a process has used, in
// seconds.
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: count fields
	// after it.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

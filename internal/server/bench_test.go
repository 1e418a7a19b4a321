package server

// The HTTPS benchmarks measure the server's CPU only: each server runs
// in a child process of the test binary (GOMAXPROCS=1), the benchmark
// drives it from this process, and the child's CPU time is read from
// /proc before and after each batch. Kinds of work alternate in batches
// within one run, so that their ratio compares like with like:
//
//	go test -run '^$' -bench 'TLSHandshake|HTTPSRedirect' -benchtime 20000x ./internal/server
//
// BenchmarkTLSHandshake: full handshakes (ECDSA P-256 certificate,
// X25519, no session) against resumed ones (a TLS 1.3 session ticket),
// each a new connection closed after the handshake.
//
// BenchmarkHTTPSRedirect: the file-v1 redirect of bench/manifest.json
// through the router, over keep-alive connections: plain HTTP/1.1,
// HTTPS with HTTP/1.1 and HTTPS with HTTP/2.

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"portico/internal/certs"
	"portico/internal/clientip"
	"portico/internal/manifest"
	"portico/internal/route"
)

// benchChildEnv makes the test binary a benchmark server: "plain" or
// "tls".
const benchChildEnv = "PORTICO_BENCH_SERVER"

const (
	benchHost     = "bench.test"
	benchPath     = "/v1.2.0/linux/rocket-skates.tar.gz"
	benchLocation = "https://downloads.example.com/rocket-skates/v1.2.0/rocket-skates-linux.tar.gz"
	benchManifest = `{"rules":[{"type":"file-v1","domain":"bench.test","incoming-path":"/{version}/{os}/rocket-skates.tar.gz","outgoing-url":"https://downloads.example.com/rocket-skates/{version}/rocket-skates-{os}.tar.gz","package-id":"bench"}]}`
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(benchChildEnv); mode != "" {
		if err := serveBench(mode); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serveBench is the child: it serves the benchmark redirect, over TLS
// with the certificate manager's configuration and a P-256 certificate
// when mode is "tls", prints its address, and exits when its standard
// input closes.
func serveBench(mode string) error {
	m, err := manifest.Decode("bench.json", []byte(benchManifest))
	if err != nil {
		return err
	}
	tab, err := route.Compile(m, route.Options{})
	if err != nil {
		return err
	}
	trusted, err := clientip.ParseTrusted("")
	if err != nil {
		return err
	}
	h := route.NewRouter(tab, trusted, nil, nil)
	log := slog.New(slog.DiscardHandler)
	lim := Limits{MaxHeaderBytes: 64 << 10, HeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	var s *Server
	switch mode {
	case "plain":
		s, err = Listen("bench", "127.0.0.1:0", h, lim, log)
	case "tls":
		dir, derr := os.MkdirTemp("", "portico-bench")
		if derr != nil {
			return derr
		}
		defer os.RemoveAll(dir)
		pair, perr := writeBenchPair(dir)
		if perr != nil {
			return perr
		}
		mgr, merr := certs.New(certs.Config{Files: []certs.Pair{pair}})
		if merr != nil {
			return merr
		}
		s, err = ListenTLS("bench", "127.0.0.1:0", h, mgr.TLSConfig(), lim, log)
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		return err
	}
	s.Start()
	fmt.Println(s.Addr().String())
	_, _ = io.Copy(io.Discard, os.Stdin)
	return s.Shutdown(context.Background())
}

// writeBenchPair writes a P-256 certificate for bench.test and its key.
func writeBenchPair(dir string) (certs.Pair, error) {
	cert, key, err := selfSignedPEM(benchHost)
	if err != nil {
		return certs.Pair{}, err
	}
	p := certs.Pair{Cert: filepath.Join(dir, "bench.crt"), Key: filepath.Join(dir, "bench.key")}
	if err := os.WriteFile(p.Cert, cert, 0o600); err != nil {
		return certs.Pair{}, err
	}
	return p, os.WriteFile(p.Key, key, 0o600)
}

// benchServer is a running child.
type benchServer struct {
	addr  string
	pid   int
	stdin io.Closer
}

func startBenchServer(b *testing.B, mode string) *benchServer {
	b.Helper()
	if _, err := os.Stat("/proc/self/task"); err != nil {
		b.Skip("skipping: the server's CPU time is read from /proc")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), benchChildEnv+"="+mode, "GOMAXPROCS=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("benchmark server (%s): %v", mode, err)
	}
	return &benchServer{addr: strings.TrimSpace(line), pid: cmd.Process.Pid, stdin: stdin}
}

// cpu returns the CPU time the server's threads have used, from their
// schedstat (nanoseconds).
func (s *benchServer) cpu(b *testing.B) time.Duration {
	b.Helper()
	dir := fmt.Sprintf("/proc/%d/task", s.pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	for _, task := range tasks {
		data, err := os.ReadFile(filepath.Join(dir, task.Name(), "schedstat"))
		if err != nil {
			continue // the thread exited
		}
		f := strings.Fields(string(data))
		if len(f) == 0 {
			continue
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			b.Fatalf("schedstat %q: %v", data, err)
		}
		total += time.Duration(ns)
	}
	return total
}

// batches runs n units of each kind of work, alternating batches of at
// most 500 so that each kind sees the same machine, and returns the
// server CPU time each kind used.
func batches(b *testing.B, s []*benchServer, n int, kinds ...func(count int)) []time.Duration {
	b.Helper()
	used := make([]time.Duration, len(kinds))
	for done := 0; done < n; {
		count := min(500, n-done)
		for i, run := range kinds {
			before := s[i].cpu(b)
			run(count)
			used[i] += s[i].cpu(b) - before
		}
		done += count
	}
	return used
}

func perCPUSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// BenchmarkTLSHandshake reports handshakes per CPU-second of the
// server, full and resumed (a TLS 1.3 session ticket, which the client
// reuses), and the ratio of resumed to full, with the key exchange Go's
// client offers by default (X25519MLKEM768, as current browsers do) and
// with X25519 alone. A resumed TLS 1.3 handshake still exchanges keys;
// it skips the certificate and its signature. Each is a new connection,
// closed after the handshake.
func BenchmarkTLSHandshake(b *testing.B) {
	srv := startBenchServer(b, "tls")
	full := &tls.Config{ServerName: benchHost, InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}
	classic := &tls.Config{ServerName: benchHost, InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, CurvePreferences: []tls.CurveID{tls.X25519}}
	resumed := &tls.Config{ServerName: benchHost, InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, ClientSessionCache: tls.NewLRUClientSessionCache(1)}
	resumedClassic := &tls.Config{ServerName: benchHost, InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, CurvePreferences: []tls.CurveID{tls.X25519},
		ClientSessionCache: tls.NewLRUClientSessionCache(1)}
	handshake := func(cfg *tls.Config, wantResumed bool) {
		c, err := tls.Dial("tcp", srv.addr, cfg)
		if err != nil {
			b.Fatal(err)
		}
		if got := c.ConnectionState().DidResume; got != wantResumed {
			b.Fatalf("DidResume = %v, want %v", got, wantResumed)
		}
		c.Close()
	}
	// The session ticket comes after the handshake, read with the
	// first answer: one request gets it.
	for _, cfg := range []*tls.Config{resumed, resumedClassic} {
		c, err := tls.Dial("tcp", srv.addr, cfg)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+benchHost+"\r\nConnection: close\r\n\r\n")
		_, _ = io.Copy(io.Discard, c)
		c.Close()
	}
	loop := func(cfg *tls.Config, wantResumed bool) func(int) {
		return func(n int) {
			for range n {
				handshake(cfg, wantResumed)
			}
		}
	}
	b.ResetTimer()
	used := batches(b, []*benchServer{srv, srv, srv, srv}, b.N,
		loop(full, false), loop(resumed, true), loop(classic, false), loop(resumedClassic, true))
	b.StopTimer()
	var rate [4]float64
	for i, u := range used {
		rate[i] = perCPUSecond(b.N, u)
	}
	b.ReportMetric(rate[0], "full/cpu-s")
	b.ReportMetric(rate[1], "resumed/cpu-s")
	b.ReportMetric(rate[2], "full-x25519/cpu-s")
	b.ReportMetric(rate[3], "resumed-x25519/cpu-s")
	if rate[0] > 0 && rate[2] > 0 {
		b.ReportMetric(rate[1]/rate[0], "resumed/full")
		b.ReportMetric(rate[3]/rate[2], "resumed/full-x25519")
	}
}

// BenchmarkHTTPSRedirect reports redirects per CPU-second of the server
// over keep-alive connections: plain HTTP/1.1, HTTPS with HTTP/1.1, and
// HTTPS with HTTP/2, with 8 clients at a time, and each HTTPS figure's
// ratio to plain HTTP's.
func BenchmarkHTTPSRedirect(b *testing.B) {
	plain, secure := startBenchServer(b, "plain"), startBenchServer(b, "tls")
	const clients = 8
	transport := func(h2 bool) *http.Transport {
		t := &http.Transport{
			TLSClientConfig:     &tls.Config{ServerName: benchHost, InsecureSkipVerify: true},
			MaxIdleConnsPerHost: clients,
			ForceAttemptHTTP2:   h2,
		}
		if !h2 {
			t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		return t
	}
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	load := func(c *http.Client, url string) func(n int) {
		return func(n int) {
			var wg sync.WaitGroup
			for w := range clients {
				wg.Go(func() {
					for i := w; i < n; i += clients {
						req, _ := http.NewRequest("GET", url, nil)
						req.Host = benchHost
						resp, err := c.Do(req)
						if err != nil {
							b.Error(err)
							return
						}
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != benchLocation {
							b.Errorf("%s: %d %q", url, resp.StatusCode, resp.Header.Get("Location"))
							return
						}
					}
				})
			}
			wg.Wait()
		}
	}
	h1 := &http.Client{Transport: transport(false), CheckRedirect: noRedirect}
	h2 := &http.Client{Transport: transport(true), CheckRedirect: noRedirect}
	plainURL := "http://" + plain.addr + benchPath
	secureURL := "https://" + secure.addr + benchPath
	// Open the connections before measuring: keep-alive is the case.
	for _, warm := range []func(int){load(h1, plainURL), load(h1, secureURL), load(h2, secureURL)} {
		warm(4 * clients)
	}
	resp, err := h2.Get(secureURL)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		b.Fatalf("the HTTP/2 client spoke %s", resp.Proto)
	}
	b.ResetTimer()
	used := batches(b, []*benchServer{plain, secure, secure}, b.N, load(h1, plainURL), load(h1, secureURL), load(h2, secureURL))
	b.StopTimer()
	p, s1, s2 := perCPUSecond(b.N, used[0]), perCPUSecond(b.N, used[1]), perCPUSecond(b.N, used[2])
	b.ReportMetric(p, "http/cpu-s")
	b.ReportMetric(s1, "https-h1/cpu-s")
	b.ReportMetric(s2, "https-h2/cpu-s")
	if p > 0 {
		b.ReportMetric(s1/p, "https-h1/http")
		b.ReportMetric(s2/p, "https-h2/http")
	}
}

// selfSignedPEM returns a new self-signed ECDSA P-256 certificate for
// name and its key, as PEM.
func selfSignedPEM(name string) (cert, key []byte, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return nil, nil, err
	}
	kd, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), nil
}

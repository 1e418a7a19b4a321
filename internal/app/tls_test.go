package app

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"portico/internal/acmetest"
	"portico/internal/config"
	"portico/internal/control"
	"portico/internal/testenv"
)

// The names of the HTTPS tests. gw2.test is in the /etc/hosts of the
// test machines (see .ci/run), for the clients that resolve it
// themselves; the Go clients dial the listener directly.
const (
	tlsDomain = "gw2.test"
	tlsApp    = "app.gw2.test"
)

// tlsEnv is Pebble and the DNS server it validates with.
type tlsEnv struct {
	ca  *acmetest.CA
	dns *testenv.DNSServer
}

func newTLSEnv(t *testing.T) *tlsEnv {
	t.Helper()
	dns := testenv.NewDNSServer(t)
	for _, n := range []string{tlsDomain, tlsApp} {
		dns.SetAddrs(n, netip.MustParseAddr("127.0.0.1"))
	}
	return &tlsEnv{ca: acmetest.New(t), dns: dns}
}

// config turns cfg into a gateway with HTTPS that orders from Pebble.
func (e *tlsEnv) config(cfg config.Config) config.Config {
	cfg.TLS.HTTPSListen = "127.0.0.1:0"
	cfg.TLS.HTTPSPort = 0 // redirects name the listener's port
	cfg.TLS.ACMECA = e.ca.Directory
	cfg.TLS.ACMECARoot = e.ca.RootFile
	return cfg
}

// start lets Pebble validate against a's listeners.
func (e *tlsEnv) start(t *testing.T, a *App) {
	t.Helper()
	e.ca.Start(t, acmetest.Options{DNS: e.dns.Addr, HTTPPort: tcpPort(a.gw.Addr()), TLSPort: tcpPort(a.https.Addr())})
}

func tcpPort(a net.Addr) int { return a.(*net.TCPAddr).Port }

// client returns an HTTPS client that trusts Pebble's roots, sends every
// request to addr, and does not follow redirects.
func (e *tlsEnv) client(addr string) *http.Client {
	var d net.Dialer
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: e.ca.Roots()},
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// handshake connects to addr asking for name and verifying the chain to
// Pebble's roots, and returns the serial of the certificate served.
func (e *tlsEnv) handshake(addr, name string) (*big.Int, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Minute}, "tcp", addr, &tls.Config{ServerName: name, RootCAs: e.ca.Roots()})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber, nil
}

// get sends a GET for url through c, with headers, and returns the
// response, its body read.
func get(t *testing.T, c *http.Client, url string, headers ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// TestHTTPSOnDemand: a verified domain gets a certificate from the ACME
// CA on its first handshake, and serves over HTTPS (HTTP/2) a file
// redirect, a pip download and a docker pull; a flood of names the
// gateway does not serve gets TLS alerts and places no order; https-only
// redirects plain requests; the app's domain gets its own certificate
// and HSTS; /readyz and /metrics show the certificates.
func TestHTTPSOnDemand(t *testing.T) {
	e := newTLSEnv(t)
	cfg := replicaConfig(t, "")
	cfg.OpsListen = "127.0.0.1:0"
	cfg.AllowPrivateUpstreams = true
	cfg.Control.AppDomain = tlsApp
	a := startApp(t, e.config(cfg))
	e.start(t, a.App)
	httpsAddr, plainAddr := a.https.Addr().String(), a.gw.Addr().String()
	port := tcpPort(a.https.Addr())
	tok, org := adminToken(t, a.App, "ops@acme.test")

	// Not served yet: no certificate, no order.
	if _, err := e.handshake(httpsAddr, tlsDomain); err == nil {
		t.Fatalf("handshake for %s before the domain was added succeeded", tlsDomain)
	}
	if _, err := a.control.svc.AddDomain(t.Context(), control.Operator, org, tlsDomain, true, false); err != nil {
		t.Fatal(err)
	}
	if !a.router.Table().Serves(tlsDomain) {
		t.Fatalf("the verified domain %s, without packages, is not served", tlsDomain)
	}
	if st, body := call(t, a.App, tok, "POST", "/api/v1/packages", map[string]any{"org": org, "name": "rocket", "rule": fileRule(tlsDomain, "dl.test")}); st != http.StatusCreated {
		t.Fatalf("create = %d %s", st, body)
	}
	serial, err := e.handshake(httpsAddr, tlsDomain)
	if err != nil {
		t.Fatalf("first handshake for %s: %v", tlsDomain, err)
	}
	if n := e.ca.Orders(); n != 1 {
		t.Fatalf("%d orders after the first handshake, want 1", n)
	}

	c := e.client(httpsAddr)
	url := fmt.Sprintf("https://%s:%d/rocket/1.0.tar.gz", tlsDomain, port)
	resp, _ := get(t, c, url)
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "https://dl.test/1.0.tar.gz" {
		t.Fatalf("HTTPS GET = %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp.ProtoMajor != 2 || resp.TLS.Version < tls.VersionTLS12 || resp.TLS.PeerCertificates[0].SerialNumber.Cmp(serial) != 0 {
		t.Errorf("served over %s, TLS %x, serial %v; want HTTP/2, TLS 1.2 or later and the certificate of the first handshake",
			resp.Proto, resp.TLS.Version, resp.TLS.PeerCertificates[0].SerialNumber)
	}
	if st, loc := download(t, plainAddr, tlsDomain, "/rocket/1.0.tar.gz"); st != http.StatusTemporaryRedirect || loc != "https://dl.test/1.0.tar.gz" {
		t.Errorf("plain GET = %d %q: plain HTTP keeps serving a domain that is not https-only", st, loc)
	}

	// A flood of names no one serves: alerts, no order, and no store
	// read either, which the count of refusals stands for.
	before := a.certs.Stats().Refused
	for i := range 500 {
		name := fmt.Sprintf("n%d.flood.test", i)
		if i%5 == 0 {
			name = fmt.Sprintf("nobody%d.gw.test", i) // an organization that does not exist
		}
		if _, err := e.handshake(httpsAddr, name); err == nil {
			t.Fatalf("handshake for %s succeeded", name)
		}
	}
	if n := e.ca.Orders(); n != 1 {
		t.Errorf("%d orders after 500 handshakes for unknown names, want 1", n)
	}
	if n := a.certs.Stats().Refused - before; n != 500 {
		t.Errorf("%d handshakes refused, want 500", n)
	}

	t.Run("https-only", func(t *testing.T) {
		if st, body := call(t, a.App, tok, "PATCH", "/api/v1/domains/"+tlsDomain, map[string]any{"https_only": true}); st != http.StatusOK {
			t.Fatalf("PATCH = %d %s", st, body)
		}
		want := fmt.Sprintf("https://%s:%d/rocket/1.0.tar.gz?a=1", tlsDomain, port)
		if st, loc := download(t, plainAddr, tlsDomain, "/rocket/1.0.tar.gz?a=1"); st != http.StatusMovedPermanently || loc != want {
			t.Errorf("plain GET of an https-only domain = %d %q, want 301 %q", st, loc, want)
		}
		resp, _ := get(t, c, url)
		if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Strict-Transport-Security") != "max-age=31536000" {
			t.Errorf("HTTPS GET of an https-only domain = %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
		}
	})

	t.Run("app", func(t *testing.T) {
		appURL := fmt.Sprintf("https://%s:%d/api/v1/openapi.json", tlsApp, port)
		resp, _ := get(t, c, appURL)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Strict-Transport-Security") != "max-age=31536000" {
			t.Errorf("app over HTTPS = %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
		}
		if n := e.ca.Orders(); n != 2 {
			t.Errorf("%d orders after the app domain's first handshake, want 2", n)
		}
		plain := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, _ = getHost(t, plain, "http://"+plainAddr+"/api/v1/openapi.json", tlsApp, "Upgrade-Insecure-Requests", "1")
		if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != appURL {
			t.Errorf("a browser's plain navigation to the app = %d %q, want a redirect to %s", resp.StatusCode, resp.Header.Get("Location"), appURL)
		}
		resp, _ = getHost(t, plain, "http://"+plainAddr+"/api/v1/openapi.json", tlsApp)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Strict-Transport-Security") != "" {
			t.Errorf("an API client's plain request to the app = %d, HSTS %q; want it served, without HSTS", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
		}
	})

	t.Run("ops", func(t *testing.T) {
		ops := "http://" + a.ops.Addr().String()
		_, ready := get(t, http.DefaultClient, ops+"/readyz")
		if !strings.Contains(ready, "https: 2 certificates in use") {
			t.Errorf("/readyz = %q, want the certificates in use", ready)
		}
		_, metrics := get(t, http.DefaultClient, ops+"/metrics")
		for _, want := range []string{
			`portico_tls_certificate_expiry_timestamp_seconds{name="` + tlsDomain + `",source="acme"}`,
			`portico_tls_certificate_expiry_timestamp_seconds{name="` + tlsApp + `",source="acme"}`,
			`portico_tls_orders_total{result="obtained"} 2`,
			fmt.Sprintf("portico_tls_handshakes_refused_total %d", a.certs.Stats().Refused),
		} {
			if !strings.Contains(metrics, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})

	t.Run("pip", func(t *testing.T) {
		needTestHost(t, tlsDomain)
		py := venvPython(t)
		wheel, name := testWheel(t)
		upstream := pythonUpstream(t, name, wheel)
		rule := map[string]any{"type": "python-index-v1", "domain": tlsDomain, "package-name": "rocket-skates", "index-url": upstream}
		if st, body := call(t, a.App, tok, "POST", "/api/v1/packages", map[string]any{"org": org, "name": "rocket-skates", "rule": rule}); st != http.StatusCreated {
			t.Fatalf("create = %d %s", st, body)
		}
		roots := filepath.Join(t.TempDir(), "roots.pem")
		if err := os.WriteFile(roots, e.ca.RootsPEM(), 0o644); err != nil {
			t.Fatal(err)
		}
		dest := t.TempDir()
		cmd := exec.Command(py, "-m", "pip", "--disable-pip-version-check", "--no-input", "--no-cache-dir", "--timeout", "30", "--retries", "0",
			"download", "--no-deps", "--dest", dest, "--cert", roots, "--index-url", fmt.Sprintf("https://%s:%d/simple/", tlsDomain, port), "rocket-skates==1.0")
		cmd.Env = append(clientEnv(), "HOME="+t.TempDir(), "PIP_CONFIG_FILE=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("pip download: %v\n%s", err, out)
		}
		got, err := os.ReadFile(filepath.Join(dest, name))
		if err != nil || !bytes.Equal(got, wheel) {
			t.Errorf("pip downloaded %d bytes (%v), want the upstream's %d", len(got), err, len(wheel))
		}
	})

	t.Run("docker", func(t *testing.T) {
		needTestHost(t, tlsDomain)
		crane := testenv.LookPath(t, "crane")
		reg, digests := testRegistry(t, "rocket")
		rule := map[string]any{"type": "docker-v2", "domain": tlsDomain, "pattern": "acme/*", "registry": reg}
		if st, body := call(t, a.App, tok, "POST", "/api/v1/packages", map[string]any{"org": org, "name": "images", "rule": rule}); st != http.StatusCreated {
			t.Fatalf("create = %d %s", st, body)
		}
		roots := filepath.Join(t.TempDir(), "roots.pem")
		if err := os.WriteFile(roots, e.ca.RootsPEM(), 0o644); err != nil {
			t.Fatal(err)
		}
		ref := fmt.Sprintf("%s:%d/acme/rocket:1.0", tlsDomain, port)
		cmd := exec.Command(crane, "digest", ref)
		// No --insecure: crane speaks HTTPS and verifies the chain.
		cmd.Env = append(clientEnv(), "SSL_CERT_FILE="+roots, "HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("crane digest: %v\n%s", err, out)
		}
		if got := strings.TrimSpace(string(out)); got != digests["acme/rocket"].String() {
			t.Errorf("crane digest = %s, want %s", got, digests["acme/rocket"])
		}
		dir := t.TempDir()
		cmd = exec.Command(crane, "pull", "--format", "oci", ref, dir)
		cmd.Env = append(clientEnv(), "SSL_CERT_FILE="+roots, "HOME="+t.TempDir())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("crane pull: %v\n%s", err, out)
		}
	})

	if n := e.ca.Orders(); n != 2 {
		t.Errorf("%d orders in all, want 2: one per name", n)
	}
}

// getHost is get with the request's Host set.
func getHost(t *testing.T, c *http.Client, url, host string, headers ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// TestHTTPSFiles: with --acme-ca off and two certificate files, the
// gateway serves each name its file's certificate, chosen by SNI, and
// orders nothing; with --data none too.
func TestHTTPSFiles(t *testing.T) {
	dir := t.TempDir()
	certA, keyA, poolA := writeCert(t, dir, "a", "a.test")
	certB, keyB, poolB := writeCert(t, dir, "b", "*.b.test")
	cfg := testConfig(t)
	cfg.Analytics.Data = config.NoStore
	cfg.TLS.HTTPSListen = "127.0.0.1:0"
	cfg.TLS.ACMECA = "off"
	cfg.TLS.Certs = []string{certA, certB}
	cfg.TLS.Keys = []string{keyA, keyB}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a := startApp(t, cfg)
	addr := a.https.Addr().String()
	for name, pool := range map[string]*x509.CertPool{"a.test": poolA, "dl.b.test": poolB} {
		c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: name, RootCAs: pool})
		if err != nil {
			t.Errorf("handshake for %s: %v", name, err)
			continue
		}
		c.Close()
	}
	c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "c.test", InsecureSkipVerify: true})
	if err == nil {
		c.Close()
		t.Error("a name no file covers got a certificate")
	}
	// The manifest's rule answers over HTTPS.
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: poolA}, DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, _ := get(t, client, "https://a.test/dl/x.tar.gz")
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "https://dl.test/x.tar.gz" {
		t.Errorf("HTTPS GET = %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// writeCert writes a self-signed certificate for name and its key, and
// returns their files and a pool that trusts the certificate.
func writeCert(t *testing.T, dir, base, name string) (string, string, *x509.CertPool) {
	t.Helper()
	cert, key := selfSignedPEM(t, name)
	certFile, keyFile := filepath.Join(dir, base+".crt"), filepath.Join(dir, base+".key")
	if err := os.WriteFile(certFile, cert, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(cert)
	return certFile, keyFile, pool
}

// selfSignedPEM returns a new self-signed ECDSA certificate for name
// and its key, as PEM.
func selfSignedPEM(t *testing.T, name string) (cert, key []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})
}

// clientEnv is the environment without the settings that would send
// clients elsewhere or trust other roots than the test gives them:
// proxies, pip's settings, CA bundles.
func clientEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		u := strings.ToUpper(k)
		switch {
		case strings.HasPrefix(k, "PIP_"), strings.HasSuffix(u, "_PROXY"), strings.HasPrefix(k, "SSL_CERT_"),
			k == "REQUESTS_CA_BUNDLE", k == "CURL_CA_BUNDLE", k == "HOME", k == "VIRTUAL_ENV", k == "PYTHONPATH":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// needTestHost stops the test unless name resolves to 127.0.0.1 for the
// clients that look it up themselves.
func needTestHost(t *testing.T, name string) {
	t.Helper()
	addrs, err := net.DefaultResolver.LookupHost(t.Context(), name)
	if err != nil || len(addrs) == 0 || addrs[0] != "127.0.0.1" {
		testenv.Missing(t, "test-hosts", "add \"127.0.0.1 "+name+"\" to /etc/hosts")
	}
}

// venvPython makes a virtual environment and returns its python.
func venvPython(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping: installs with real clients are not run with -short")
	}
	py := testenv.LookPath(t, "python3")
	if err := exec.Command(py, "-c", "import venv, ensurepip").Run(); err != nil {
		testenv.Missing(t, "python3", "python3 without venv/ensurepip (Debian: apt-get install python3-venv)")
	}
	dir := t.TempDir()
	if out, err := exec.Command(py, "-m", "venv", dir).CombinedOutput(); err != nil {
		t.Fatalf("python3 -m venv: %v\n%s", err, out)
	}
	return filepath.Join(dir, "bin", "python")
}

// testWheel builds rocket-skates 1.0 as a pure-Python wheel, and returns
// it with its file name.
func testWheel(t *testing.T) ([]byte, string) {
	t.Helper()
	files := []struct{ name, body string }{
		{"rocket_skates/__init__.py", "VERSION = '1.0'\n"},
		{"rocket_skates-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: rocket-skates\nVersion: 1.0\n"},
		{"rocket_skates-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: portico-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	var record strings.Builder
	for _, f := range files {
		w, err := zw.Create(f.name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, f.body)
		sum := sha256.Sum256([]byte(f.body))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f.name, base64.RawURLEncoding.EncodeToString(sum[:]), len(f.body))
	}
	record.WriteString("rocket_skates-1.0.dist-info/RECORD,,\n")
	w, err := zw.Create("rocket_skates-1.0.dist-info/RECORD")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, record.String())
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), "rocket_skates-1.0-py3-none-any.whl"
}

// pythonUpstream serves a simple index with one project, rocket-skates,
// of one file, and returns the index URL.
func pythonUpstream(t *testing.T, file string, wheel []byte) string {
	t.Helper()
	sum := sha256.Sum256(wheel)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /simple/rocket-skates/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!DOCTYPE html><html><body><a href="/files/%s#sha256=%x">%s</a></body></html>`, file, sum, file)
	})
	mux.HandleFunc("GET /files/"+file, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(wheel)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/simple/"
}

// TestHTTPSRedirectPort: redirects to HTTPS name the port clients reach
// the HTTPS listener on: 443 (none in the URL) unless --https-port says
// otherwise, the listener's own with --https-port 0; behind a port
// mapping the listener's port is not the one clients see.
func TestHTTPSRedirectPort(t *testing.T) {
	dir := t.TempDir()
	cert, key, _ := writeCert(t, dir, "a", "a.test")
	path := filepath.Join(dir, "https-only.json")
	m := `{"rules":[{"type":"file-v1","domain":"a.test","incoming-path":"/dl/{file}","outgoing-url":"https://dl.test/{file}","package-id":"p","https-only":true}]}`
	if err := os.WriteFile(path, []byte(m), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		port int // --https-port; -1 leaves the default
		want string
	}{
		{"default", -1, "https://a.test/dl/x.tar.gz?v=1"},
		{"mapped", 8443, "https://a.test:8443/dl/x.tar.gz?v=1"},
		{"listener", 0, "https://a.test:%d/dl/x.tar.gz?v=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Manifest = path
			cfg.Analytics.Data = config.NoStore
			cfg.TLS.HTTPSListen = "127.0.0.1:0"
			cfg.TLS.ACMECA = "off"
			cfg.TLS.Certs, cfg.TLS.Keys = []string{cert}, []string{key}
			if tc.port >= 0 {
				cfg.TLS.HTTPSPort = tc.port
			}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			a := startApp(t, cfg)
			want := tc.want
			if strings.Contains(want, "%d") {
				want = fmt.Sprintf(want, tcpPort(a.https.Addr()))
			}
			if st, loc := download(t, a.gw.Addr().String(), "a.test", "/dl/x.tar.gz?v=1"); st != http.StatusMovedPermanently || loc != want {
				t.Errorf("plain GET of an https-only domain = %d %q, want 301 %q", st, loc, want)
			}
		})
	}
	cfg := testConfig(t)
	cfg.TLS.HTTPSPort = 65536
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "--https-port") {
		t.Errorf("--https-port 65536: %v, want it refused", err)
	}
}

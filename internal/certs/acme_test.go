package certs_test

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"portico/internal/acmetest"
	"portico/internal/certs"
	"portico/internal/store/sqlite"
	"portico/internal/testenv"
	"portico/internal/tlsstore"
)

// acmeEnv is a Manager ordering from Pebble, with its challenges
// answered on listeners of its own.
type acmeEnv struct {
	m       *certs.Manager
	ca      *acmetest.CA
	tlsAddr string
}

// newACMEEnv starts Pebble, issuing certificates of the given lifetime,
// and a Manager that allows the names of allowed only, renewing every
// renewCheck.
func newACMEEnv(t *testing.T, validity, renewCheck time.Duration, allowed ...string) *acmeEnv {
	t.Helper()
	dns := testenv.NewDNSServer(t)
	for _, n := range allowed {
		dns.SetAddrs(n, netip.MustParseAddr("127.0.0.1"))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(t.Context(), sqlite.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ca := acmetest.New(t)
	roots := x509.NewCertPool()
	pem, err := os.ReadFile(ca.RootFile)
	if err != nil || !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("CA root: %v", err)
	}
	m, err := certs.New(certs.Config{Logger: slog.New(slog.NewTextHandler(t.Output(), nil)),
		ACME: &certs.ACME{CA: ca.Directory, Roots: roots, PerMinute: 60, Storage: tlsstore.New(st, tlsstore.Options{}),
			HTTPAddr: ln.Addr().String(), TLSAddr: tln.Addr().String(), RenewCheck: renewCheck},
		Allowed: func(name string) bool {
			for _, n := range allowed {
				if n == name {
					return true
				}
			}
			return false
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	plain := &http.Server{Handler: m.HTTPChallenge(http.NotFoundHandler())}
	secure := &http.Server{Handler: http.NotFoundHandler(), TLSConfig: m.TLSConfig()}
	var wg sync.WaitGroup
	wg.Go(func() { _ = plain.Serve(ln) })
	wg.Go(func() { _ = secure.ServeTLS(tln, "", "") })
	t.Cleanup(func() {
		m.Close()
		plain.Close()
		secure.Close()
		wg.Wait()
	})
	ca.Start(t, acmetest.Options{DNS: dns.Addr, HTTPPort: port(t, ln), TLSPort: port(t, tln), Validity: validity})
	return &acmeEnv{m: m, ca: ca, tlsAddr: tln.Addr().String()}
}

func port(t *testing.T, ln net.Listener) int {
	t.Helper()
	return ln.Addr().(*net.TCPAddr).Port
}

// leaf handshakes for name, verifying the chain to the CA's roots, and
// returns the certificate served.
func (e *acmeEnv) leaf(name string) (*x509.Certificate, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Minute}, "tcp", e.tlsAddr, &tls.Config{ServerName: name, RootCAs: e.ca.Roots()})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0], nil
}

// TestACMERenewal: a short-lived certificate ordered at its name's first
// handshake is renewed before it expires without any handshake asking
// for it, and the renewed one is served after.
func TestACMERenewal(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: waits for a certificate's renewal")
	}
	const name = "renew.portico.test"
	e := newACMEEnv(t, 30*time.Second, 500*time.Millisecond, name)
	first, err := e.leaf(name)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.ca.Orders(); got != 1 {
		t.Fatalf("%d orders after the first handshake, want 1", got)
	}
	if d := e.m.Describe(time.Now()); !strings.Contains(d, "certificate for "+name+" (acme) expires in 0d0h0m") {
		t.Errorf("Describe = %q, want the certificate named within a week of its expiry", d)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		var latest time.Time
		for _, c := range e.m.Certificates() {
			if c.NotAfter.After(latest) {
				latest = c.NotAfter
			}
		}
		if latest.After(first.NotAfter) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the certificate expiring at %v was not renewed in the background within a minute", first.NotAfter)
		}
		time.Sleep(100 * time.Millisecond)
	}
	second, err := e.leaf(name)
	if err != nil {
		t.Fatal(err)
	}
	if second.SerialNumber.Cmp(first.SerialNumber) == 0 || !second.NotAfter.After(first.NotAfter) {
		t.Errorf("after the renewal, the certificate served expires at %v (serial %v); first %v (serial %v)", second.NotAfter, second.SerialNumber, first.NotAfter, first.SerialNumber)
	}
	if got := e.ca.Orders(); got < 2 {
		t.Errorf("%d orders after a renewal, want at least 2", got)
	}
	if s := e.m.Stats(); s.Obtained < 2 || s.Failed != 0 {
		t.Errorf("Stats = %+v, want two orders or more obtained, none failed", s)
	}
}

// TestACMERefusesUnknownNames: names the gateway does not serve get a
// TLS alert and no order, in a handshake or in a TLS-ALPN-01 request; a
// name it serves gets its certificate, however the client writes it.
func TestACMERefusesUnknownNames(t *testing.T) {
	const name = "known.portico.test"
	e := newACMEEnv(t, 0, 0, name)
	if _, err := e.leaf(name); err != nil {
		t.Fatalf("handshake for %s: %v", name, err)
	}
	for _, tc := range []struct {
		sni  string
		alpn []string
		want bool
	}{
		{"KNOWN.Portico.Test", nil, true},
		{"unknown.portico.test", nil, false},
		{"known.portico.test.evil.test", nil, false},
		{"x.known.portico.test", nil, false},
		{"", nil, false},
		{"unknown.portico.test", []string{"acme-tls/1"}, false},
	} {
		c, err := tls.Dial("tcp", e.tlsAddr, &tls.Config{ServerName: tc.sni, NextProtos: tc.alpn, InsecureSkipVerify: true})
		if err == nil {
			c.Close()
		}
		if (err == nil) != tc.want {
			t.Errorf("handshake for %q (ALPN %q): %v, want served %v", tc.sni, tc.alpn, err, tc.want)
		}
	}
	if got := e.ca.Orders(); got != 1 {
		t.Errorf("%d orders, want 1: for %s only", got, name)
	}
	if s := e.m.Stats(); s.Refused != 5 || s.Obtained != 1 {
		t.Errorf("Stats = %+v, want 5 refused and 1 obtained", s)
	}
}

package main

import (
	"crypto/tls"
	"math/big"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"portico/internal/acmetest"
	"portico/internal/testenv"
)

const tlsManifest = `{"rules":[
 {"type":"file-v1","domain":"one.portico.test","incoming-path":"/dl/{f}","outgoing-url":"https://files.test/{f}","package-id":"one"},
 {"type":"file-v1","domain":"two.portico.test","incoming-path":"/dl/{f}","outgoing-url":"https://files.test/{f}","package-id":"two"}]}`

// TestHTTPSProcessesOrderOnce runs gateways as separate processes on one
// PostgreSQL database, with Pebble validating against the first one's
// listeners only. A name asked of the second is ordered by it and
// validated at the first, from the challenge in the store; a name asked
// of both at once is ordered once; a gateway started later serves both
// without ordering.
func TestHTTPSProcessesOrderOnce(t *testing.T) {
	db := testenv.Postgres(t)
	dns := testenv.NewDNSServer(t)
	for _, n := range []string{"one.portico.test", "two.portico.test"} {
		dns.SetAddrs(n, netip.MustParseAddr("127.0.0.1"))
	}
	ca := acmetest.New(t)
	startTLS := func() (*gateway, string) {
		https := freeAddr(t)
		g := start(t, tlsManifest, "--data", filepath.Join(t.TempDir(), "data"), "--database", db, "--events", "none",
			"--https-listen", https, "--acme-ca", ca.Directory, "--acme-ca-root", ca.RootFile)
		return g, https
	}
	g1, https1 := startTLS()
	_, https2 := startTLS()
	ca.Start(t, acmetest.Options{DNS: dns.Addr, HTTPPort: portOf(t, g1.addr), TLSPort: portOf(t, https1)})
	handshake := func(addr, name string) (*big.Int, error) {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Minute}, "tcp", addr, &tls.Config{ServerName: name, RootCAs: ca.Roots()})
		if err != nil {
			return nil, err
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber, nil
	}

	one, err := handshake(https2, "one.portico.test")
	if err != nil {
		t.Fatalf("handshake with the second gateway: %v", err)
	}
	if n := ca.Orders(); n != 1 {
		t.Fatalf("%d orders after one name's first handshake, want 1", n)
	}

	var wg sync.WaitGroup
	serials := make([]*big.Int, 6)
	errs := make([]error, len(serials))
	begin := make(chan struct{})
	for i := range serials {
		addr := []string{https1, https2}[i%2]
		wg.Go(func() {
			<-begin
			serials[i], errs[i] = handshake(addr, "two.portico.test")
		})
	}
	close(begin)
	wg.Wait()
	for i := range serials {
		if errs[i] != nil {
			t.Fatalf("handshake %d: %v", i, errs[i])
		}
		if serials[i].Cmp(serials[0]) != 0 {
			t.Errorf("handshake %d was served serial %v, handshake 0 serial %v: two certificates for one name", i, serials[i], serials[0])
		}
	}
	if n := ca.Orders(); n != 2 {
		t.Fatalf("%d orders, want 2: one name asked of two gateways at once is ordered once", n)
	}

	_, https3 := startTLS()
	for name, want := range map[string]*big.Int{"one.portico.test": one, "two.portico.test": serials[0]} {
		got, err := handshake(https3, name)
		if err != nil || got.Cmp(want) != 0 {
			t.Errorf("a gateway started later served %s serial %v (%v), want %v", name, got, err, want)
		}
	}
	if n := ca.Orders(); n != 2 {
		t.Errorf("%d orders after a third gateway served both names, want 2", n)
	}
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

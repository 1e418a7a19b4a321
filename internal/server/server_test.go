package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"portico/internal/testenv"
)

// selfSigned returns an ECDSA P-256 certificate for name, and a pool
// that trusts it.
func selfSigned(t testing.TB, name string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// TestListenTLS: the HTTPS listener speaks HTTP/2 and HTTP/1.1 with the
// certificate its configuration chooses, refuses TLS 1.1, and its error
// log names no client address.
func TestListenTLS(t *testing.T) {
	cert, pool := selfSigned(t, "get.acme.test")
	var logs testenv.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Proto)
	})
	s, err := ListenTLS("https", "127.0.0.1:0", h, cfg, Limits{MaxHeaderBytes: 1 << 16, HeaderTimeout: time.Second, IdleTimeout: time.Second}, log)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() { _ = s.Shutdown(t.Context()) })
	addr := s.Addr().String()
	for _, tc := range []struct {
		h2   bool
		want string
	}{{true, "HTTP/2.0"}, {false, "HTTP/1.1"}} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: tc.h2}
		if !tc.h2 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}
		resp, err := (&http.Client{Transport: tr}).Get("https://get.acme.test/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		tr.CloseIdleConnections()
		if string(body) != tc.want {
			t.Errorf("HTTP/2 offered %v: served over %s, want %s", tc.h2, body, tc.want)
		}
	}
	c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "get.acme.test", RootCAs: pool, MaxVersion: tls.VersionTLS11})
	if err == nil {
		c.Close()
		t.Error("a TLS 1.1 handshake succeeded")
	}
	// A failed handshake is logged, at debug level, without the
	// client's address.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "TLS handshake error") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	out := logs.String()
	if !strings.Contains(out, "TLS handshake error from [client]") || strings.Contains(out, "127.0.0.1") {
		t.Errorf("error log = %q, want the handshake error without the client's address", out)
	}
}

func TestScrubber(t *testing.T) {
	var b bytes.Buffer
	s := scrubber{slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug})}
	for _, line := range []string{
		"http: TLS handshake error from 203.0.113.7:51234: EOF\n",
		"http: TLS handshake error from [2001:db8::1]:443: remote error\n",
		"peer 198.51.100.9, then 2001:db8::2; done\n",
	} {
		if _, err := s.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	out := b.String()
	for _, addr := range []string{"203.0.113.7", "2001:db8::1", "198.51.100.9", "2001:db8::2"} {
		if strings.Contains(out, addr) {
			t.Errorf("scrubbed log holds %s:\n%s", addr, out)
		}
	}
	if strings.Count(out, "[client]") != 4 || !strings.Contains(out, "TLS handshake error from [client] EOF") {
		t.Errorf("scrubbed log = %q, want four addresses replaced and the rest kept", out)
	}
}

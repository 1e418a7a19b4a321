package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// writePair writes a new self-signed certificate for names and its key
// to dir/base.crt and dir/base.key, and returns the pair and the
// certificate's serial number.
func writePair(t *testing.T, dir, base string, notAfter time.Time, names ...string) (Pair, *big.Int) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p := Pair{Cert: filepath.Join(dir, base+".crt"), Key: filepath.Join(dir, base+".key")}
	writeFile(t, p.Cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeFile(t, p.Key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	return p, serial
}

// writeFile replaces path as a deployment tool does: a new file renamed
// over the old one.
func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// serve runs a TLS listener with m's configuration that completes
// handshakes and closes, and returns its address.
func serve(t *testing.T, m *Manager) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", m.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				_ = c.(*tls.Conn).Handshake()
				c.Close()
			})
		}
	})
	return ln.Addr().String()
}

// handshake connects to addr asking for name, and returns the serial of
// the certificate served.
func handshake(addr, name string) (*big.Int, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{ServerName: name, InsecureSkipVerify: true})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber, nil
}

// TestFilesBySNI: two pairs are chosen by the name asked for, wildcards
// included; a name neither covers and that the gateway does not serve
// gets a TLS alert.
func TestFilesBySNI(t *testing.T) {
	dir := t.TempDir()
	a, serialA := writePair(t, dir, "a", time.Now().Add(90*24*time.Hour), "get.acme.test", "*.acme.test")
	b, serialB := writePair(t, dir, "b", time.Now().Add(3*24*time.Hour), "dl.rocket.test")
	m, err := New(Config{Files: []Pair{a, b}})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, m)
	for name, want := range map[string]*big.Int{
		"get.acme.test":  serialA,
		"GET.Acme.Test.": serialA,
		"cr.acme.test":   serialA, // the wildcard
		"dl.rocket.test": serialB,
	} {
		got, err := handshake(addr, name)
		if err != nil || got.Cmp(want) != 0 {
			t.Errorf("handshake for %s: serial %v, %v; want %v", name, got, err, want)
		}
	}
	for _, name := range []string{"a.b.acme.test", "rocket.test", "unknown.test", ""} {
		if got, err := handshake(addr, name); err == nil {
			t.Errorf("handshake for %q served serial %v, want a TLS alert", name, got)
		}
	}
	if s := m.Stats(); s.Refused != 4 {
		t.Errorf("Refused = %d, want 4", s.Refused)
	}
	d := m.Describe(time.Now())
	if !strings.Contains(d, "https: 2 certificates in use") || !strings.Contains(d, "certificate for dl.rocket.test (file) expires in 2d23h59m") || strings.Contains(d, "get.acme.test") {
		t.Errorf("Describe = %q, want 2 certificates and dl.rocket.test's, alone, within a week of expiry", d)
	}
}

// TestFilesReload: a renewed certificate is served once its files change,
// a half-written pair leaves the one in use serving, and so does a
// missing file.
func TestFilesReload(t *testing.T) {
	dir := t.TempDir()
	a, serial1 := writePair(t, dir, "a", time.Now().Add(time.Hour), "get.acme.test")
	b, serialB := writePair(t, dir, "b", time.Now().Add(time.Hour), "dl.rocket.test")
	var logs bytes.Buffer
	var mu sync.Mutex
	m, err := New(Config{Files: []Pair{a, b}, Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, m)
	go m.Watch(t.Context(), 10*time.Millisecond)
	waitSerial := func(name string, want *big.Int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, err := handshake(addr, name)
			if err == nil && got.Cmp(want) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("handshake for %s: serial %v, %v; want %v after the files changed", name, got, err, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitSerial("get.acme.test", serial1)

	// Renewed in place.
	_, serial2 := writePair(t, dir, "a", time.Now().Add(48*time.Hour), "get.acme.test")
	waitSerial("get.acme.test", serial2)
	waitSerial("dl.rocket.test", serialB)

	// A new certificate written, its key not yet: the pair does not
	// match, and the certificate in use keeps serving.
	newer := t.TempDir()
	p3, serial3 := writePair(t, newer, "a", time.Now().Add(72*time.Hour), "get.acme.test")
	crt, _ := os.ReadFile(p3.Cert)
	writeFile(t, a.Cert, crt)
	time.Sleep(100 * time.Millisecond)
	waitSerial("get.acme.test", serial2)
	mu.Lock()
	n := strings.Count(logs.String(), "certificate files unreadable")
	mu.Unlock()
	if n != 1 {
		t.Errorf("a half-written pair was logged %d times over 10 polls, want once:\n%s", n, logs.String())
	}
	key, _ := os.ReadFile(p3.Key)
	writeFile(t, a.Key, key)
	waitSerial("get.acme.test", serial3)

	if err := os.Remove(b.Cert); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	waitSerial("dl.rocket.test", serialB)
}

func TestFilesErrors(t *testing.T) {
	dir := t.TempDir()
	good, _ := writePair(t, dir, "good", time.Now().Add(time.Hour), "get.acme.test")
	other, _ := writePair(t, dir, "other", time.Now().Add(time.Hour), "other.test")
	for _, tc := range []struct {
		name  string
		pairs []Pair
		want  string
	}{
		{"missing", []Pair{{Cert: filepath.Join(dir, "none.crt"), Key: good.Key}}, "none.crt"},
		{"mismatched", []Pair{{Cert: good.Cert, Key: other.Key}}, "certificate " + good.Cert + " with key " + other.Key},
		{"not PEM", []Pair{{Cert: good.Key, Key: good.Key}}, "certificate " + good.Key},
	} {
		m, err := New(Config{Files: tc.pairs})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v, %v; want an error naming %q", tc.name, m, err, tc.want)
		}
	}
	if _, err := New(Config{ACME: &ACME{CA: "https://ca.test/dir", HTTPAddr: ":80", TLSAddr: ":443"}}); err == nil {
		t.Error("ACME without a storage: New succeeded")
	}
	var refused *Manager
	refused, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := refused.GetCertificate(&tls.ClientHelloInfo{ServerName: "get.acme.test"}); !errors.Is(err, ErrNotServed) {
		t.Errorf("no files and no ACME: GetCertificate = %v, want ErrNotServed", err)
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

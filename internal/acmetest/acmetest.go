// Package acmetest runs a real ACME CA for tests: Let's Encrypt's
// Pebble, in process, on a free port of 127.0.0.1. Its validation
// authority resolves names with the test's DNS server and connects to
// the HTTP-01 and TLS-ALPN-01 ports the test gives, where the gateway
// under test answers. It counts the orders it accepts, so that a test
// can require that a name got no order, or one.
//
// The CA's directory URL is known as soon as New returns, so that the
// gateway can be configured with it; the CA answers once Start has been
// given the gateway's ports.
package acmetest

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
)

// newOrderPath is Pebble's new-order endpoint.
const newOrderPath = "/order-plz"

// A CA is a running Pebble.
type CA struct {
	// Directory is the ACME directory URL.
	Directory string
	// RootFile is a PEM file of the certificate of the CA's own HTTPS
	// endpoint, for --acme-ca-root.
	RootFile string

	srv     *httptest.Server
	handler atomic.Pointer[http.Handler]
	orders  atomic.Int64
	authz   *ca.CAImpl
	logs    *lockedBuffer
}

// Options configure the CA's validation and certificates.
type Options struct {
	// DNS is the host:port of the DNS server that resolves the names
	// to validate.
	DNS string
	// HTTPPort and TLSPort are where the HTTP-01 and TLS-ALPN-01
	// validations connect.
	HTTPPort, TLSPort int
	// Validity is the lifetime of the certificates issued; 0 is
	// Pebble's default, 90 days.
	Validity time.Duration
}

// New starts the CA's HTTPS endpoint; it answers 503 until Start. The
// CA stops when the test ends, and its log is shown if the test failed.
func New(t testing.TB) *CA {
	t.Helper()
	c := &CA{logs: &lockedBuffer{}}
	c.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := c.handler.Load()
		if h == nil {
			http.Error(w, "the CA is not started", http.StatusServiceUnavailable)
			return
		}
		(*h).ServeHTTP(w, r)
	}))
	c.srv.StartTLS()
	t.Cleanup(c.srv.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pebble log:\n%s", c.logs.String())
		}
	})
	c.Directory = c.srv.URL + wfe.DirectoryPath
	c.RootFile = filepath.Join(t.TempDir(), "pebble-https.pem")
	if err := os.WriteFile(c.RootFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return c
}

// Start builds the CA with opts and serves it. It sets Pebble's
// environment for the test: no sleep before validations and no nonces
// refused at random, for speed and determinism.
func (c *CA) Start(t testing.TB, opts Options) {
	t.Helper()
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	// Pebble reuses an authorization for the same name at random by
	// default; never, so that every order is validated.
	t.Setenv("PEBBLE_AUTHZREUSE", "0")
	logger := log.New(c.logs, "pebble ", log.Lmicroseconds)
	store := db.NewMemoryStore()
	profiles := map[string]ca.Profile{"default": {Description: "test", ValidityPeriod: uint64(opts.Validity / time.Second)}}
	c.authz = ca.New(logger, store, "", "ecdsa", 0, 1, profiles)
	v := va.New(logger, opts.HTTPPort, opts.TLSPort, false, opts.DNS, store)
	front := wfe.New(logger, store, v, c.authz, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	api := front.Handler()
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != newOrderPath {
			api.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		api.ServeHTTP(sw, r)
		if sw.status == http.StatusCreated {
			c.orders.Add(1)
		}
	})
	c.handler.Store(&h)
}

// Orders returns how many orders the CA has accepted.
func (c *CA) Orders() int { return int(c.orders.Load()) }

// Roots returns the roots the CA's certificates chain to, for clients
// of the gateway.
func (c *CA) Roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(c.authz.GetRootCert(0).Cert)
	return pool
}

// RootsPEM returns Roots as PEM, for clients that read a file.
func (c *CA) RootsPEM() []byte { return c.authz.GetRootCert(0).PEM() }

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Package certs gives the HTTPS listener its certificates: from the
// operator's files, chosen by the name the client asks for (SNI) and
// read again when the files change, and from an ACME CA (Let's Encrypt
// by default) through certmagic, on demand.
//
// On demand means that a name's certificate is ordered at the first
// handshake that asks for it. Only names the gateway serves get one:
// Allowed, an in-memory lookup in the current routing table, decides
// before anything else, so a client that sends made-up names costs one
// map lookup and gets a TLS alert, and causes no read of the store and
// no order. Orders are rate limited on top. Certificates, keys and the
// ACME account are kept in the store (package tlsstore), so the gateways
// of one store share them and order a name once; certmagic renews them
// before they expire and staples OCSP responses where the CA gives them.
//
// The CA validates a name with the HTTP-01 challenge, answered on the
// plain HTTP listener by HTTPChallenge, or with TLS-ALPN-01, answered on
// the HTTPS listener by the TLS configuration. Either listener of any
// gateway of the store answers, since the challenge is in the store too.
package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/certmagic"
	"golang.org/x/time/rate"
)

// acmeTLS1 is the ALPN protocol of the TLS-ALPN-01 challenge (RFC 8737).
const acmeTLS1 = "acme-tls/1"

// challengePath is where the HTTP-01 challenge is asked for (RFC 8555).
const challengePath = "/.well-known/acme-challenge/"

// ACME configures the certificates ordered from an ACME CA.
type ACME struct {
	// CA is the CA's directory URL.
	CA string
	// Roots, when set, are the roots the CA's own HTTPS certificate
	// chains to (a private CA); nil trusts the system's.
	Roots *x509.CertPool
	// Email is the account's contact address, if any.
	Email string
	// PerMinute is how many orders may be placed a minute, in bursts of
	// as many.
	PerMinute int
	// Storage keeps certificates, keys, the account and challenges.
	Storage certmagic.Storage
	// HTTPAddr and TLSAddr are the plain HTTP and HTTPS listeners'
	// addresses, where the challenges are answered. certmagic would
	// otherwise try to listen on :80 and :443 itself.
	HTTPAddr, TLSAddr string
	// RenewCheck is how often the certificates in use are checked for
	// renewal; 0 means every 10 minutes. Tests of short-lived
	// certificates shorten it.
	RenewCheck time.Duration
}

// defaultRenewCheck is how often certificates are checked for renewal:
// certmagic's default.
const defaultRenewCheck = 10 * time.Minute

// Config configures a Manager.
type Config struct {
	// Files are the operator's certificates, served first for the
	// names they cover.
	Files []Pair
	// ACME, when set, orders certificates for the other names.
	ACME *ACME
	// Allowed reports whether the gateway serves name (lower-case,
	// without a trailing dot): only those get ACME certificates. It is
	// called for every handshake that no file covers, so it must be an
	// in-memory lookup.
	Allowed func(name string) bool
	Logger  *slog.Logger
}

// Manager chooses the certificate of each handshake.
type Manager struct {
	cfg     Config
	log     *slog.Logger
	static  atomic.Pointer[staticSet]
	magic   *certmagic.Config
	cache   *certmagic.Cache
	issuer  *certmagic.ACMEIssuer
	limiter *rate.Limiter

	// names are the names certmagic has cached certificates for, for
	// Certificates.
	names sync.Map // string → struct{}

	refused  atomic.Uint64 // handshakes for names the gateway does not serve
	obtained atomic.Uint64
	failed   atomic.Uint64

	reloadMu sync.Mutex // one reload of the files at a time
	tried    []stamp    // stamps of the files that last failed to load

	renewCheck time.Duration
	stop       context.CancelFunc
	done       chan struct{}
}

// ErrNotServed is the handshake error for a name the gateway does not
// serve: the client gets a TLS alert.
var ErrNotServed = errors.New("no certificate: the gateway does not serve this name")

// New builds a Manager. It reads the certificate files now: a missing or
// bad one is an error.
func New(cfg Config) (*Manager, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Allowed == nil {
		cfg.Allowed = func(string) bool { return false }
	}
	m := &Manager{cfg: cfg, log: cfg.Logger}
	if len(cfg.Files) > 0 {
		set, err := loadStatic(cfg.Files)
		if err != nil {
			return nil, err
		}
		m.static.Store(set)
	}
	if cfg.ACME != nil {
		if err := m.setupACME(*cfg.ACME); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Manager) setupACME(a ACME) error {
	if a.Storage == nil {
		return errors.New("certificates from an ACME CA need a storage")
	}
	zl := newZapLogger(m.log.Handler())
	m.limiter = rate.NewLimiter(rate.Limit(float64(max(a.PerMinute, 1))/60), max(a.PerMinute, 1))
	m.renewCheck = a.RenewCheck
	if m.renewCheck <= 0 {
		m.renewCheck = defaultRenewCheck
	}
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   func(certmagic.Certificate) (*certmagic.Config, error) { return m.magic, nil },
		RenewCheckInterval: m.renewCheck,
		Logger:             zl,
	})
	m.magic = certmagic.New(m.cache, certmagic.Config{
		Storage:   a.Storage,
		Logger:    zl,
		KeySource: certmagic.StandardKeyGenerator{KeyType: certmagic.P256},
		OnDemand: &certmagic.OnDemandConfig{
			// Checked again before every load, order and renewal:
			// a name the gateway stopped serving is not renewed.
			DecisionFunc: func(_ context.Context, name string) error {
				if !m.cfg.Allowed(name) {
					return ErrNotServed
				}
				return nil
			},
		},
		OnEvent: m.onEvent,
		// Events are built only for what onEvent reads: certmagic
		// would otherwise describe every handshake to it.
		ShouldEmitFunc: func(event string) bool {
			switch event {
			case "cert_obtaining", "cert_obtained", "cert_failed", "cached_managed_cert":
				return true
			}
			return false
		},
	})
	httpHost, httpPort, err := splitPort(a.HTTPAddr)
	if err != nil {
		return fmt.Errorf("HTTP-01 challenge address: %w", err)
	}
	_, tlsPort, err := splitPort(a.TLSAddr)
	if err != nil {
		return fmt.Errorf("TLS-ALPN-01 challenge address: %w", err)
	}
	m.issuer = certmagic.NewACMEIssuer(m.magic, certmagic.ACMEIssuer{
		CA:           a.CA,
		TrustedRoots: a.Roots,
		Email:        a.Email,
		Agreed:       true,
		// certmagic listens on these for challenges unless something
		// does already: the gateway's own listeners do, so it finds
		// them busy and leaves the answering to them.
		ListenHost:     httpHost,
		AltHTTPPort:    httpPort,
		AltTLSALPNPort: tlsPort,
		Logger:         zl,
	})
	m.magic.Issuers = []certmagic.Issuer{m.issuer}
	ctx, stop := context.WithCancel(context.Background())
	m.stop, m.done = stop, make(chan struct{})
	go m.maintain(ctx)
	return nil
}

// maintain renews the certificates in use before they expire, every
// renewCheck, until ctx ends. certmagic renews on-demand certificates
// only when a handshake finds them due, which a name without traffic
// would never do: this goes through the same path for each name whose
// certificate is due, as a handshake would, so that the renewal happens
// in the background and under the same lock on every gateway. A name the
// gateway no longer serves is not renewed.
func (m *Manager) maintain(ctx context.Context) {
	defer close(m.done)
	t := time.NewTicker(m.renewCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m.names.Range(func(k, _ any) bool {
			name := k.(string)
			if ctx.Err() != nil || !m.cfg.Allowed(name) {
				return ctx.Err() == nil
			}
			due := false
			for _, c := range m.cache.AllMatchingCertificates(name) {
				due = due || c.NeedsRenewal(m.magic)
			}
			if due {
				// Serves the certificate in use and renews it in
				// the background, or blocks until renewed if it
				// has expired.
				if _, err := m.magic.GetCertificateWithContext(ctx, &tls.ClientHelloInfo{ServerName: name}); err != nil {
					m.log.Error("renewing a certificate", "name", name, "err", err)
				}
			}
			return true
		})
	}
}

// onEvent counts certmagic's orders, holds each new order until the rate
// limit lets it go (or its handshake gives up), and notes the names of
// the certificates in the cache.
func (m *Manager) onEvent(ctx context.Context, event string, data map[string]any) error {
	switch event {
	case "cert_obtaining":
		if err := m.limiter.Wait(ctx); err != nil {
			return fmt.Errorf("certificate orders are over --acme-rate: %w", err)
		}
	case "cert_obtained":
		m.obtained.Add(1)
	case "cert_failed":
		m.failed.Add(1)
	case "cached_managed_cert":
		if sans, ok := data["sans"].([]string); ok {
			for _, n := range sans {
				m.names.Store(n, struct{}{})
			}
		}
	}
	return nil
}

// TLSConfig returns the HTTPS listener's configuration: TLS 1.2 and 1.3,
// with TLS 1.2 limited to forward-secret AEAD suites (those HTTP/2
// allows), HTTP/2 and HTTP/1.1, and the certificate of each handshake
// chosen by GetCertificate.
func (m *Manager) TLSConfig() *tls.Config {
	protos := []string{"h2", "http/1.1"}
	if m.magic != nil {
		protos = append(protos, acmeTLS1)
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		NextProtos:     protos,
		GetCertificate: m.GetCertificate,
	}
}

// GetCertificate chooses the certificate of a handshake: the operator's
// file that covers the name; for a name the gateway serves, its ACME
// certificate, loaded from the store or ordered; else none.
func (m *Manager) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := normalize(hello.ServerName)
	// The CA's TLS-ALPN-01 validation asks for a challenge certificate.
	if len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acmeTLS1 {
		if m.magic == nil || !m.cfg.Allowed(name) {
			m.refused.Add(1)
			return nil, ErrNotServed
		}
		return m.magic.GetCertificate(hello)
	}
	if c := m.static.Load().lookup(name); c != nil {
		return c, nil
	}
	if m.magic == nil || name == "" || !m.cfg.Allowed(name) {
		m.refused.Add(1)
		return nil, ErrNotServed
	}
	return m.magic.GetCertificate(hello)
}

// HTTPChallenge answers the CA's HTTP-01 requests for the names the
// gateway serves, and hands every other request to next.
func (m *Manager) HTTPChallenge(next http.Handler) http.Handler {
	if m.issuer == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, challengePath) && m.cfg.Allowed(normalize(hostOnly(r.Host))) && m.issuer.HandleHTTPChallenge(w, r) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Reload reads the certificate files again if any changed. On an error
// (a pair half written, say) the certificates in use stay, and the error
// is logged once for that version of the files.
func (m *Manager) Reload() {
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	cur := m.static.Load()
	if cur == nil {
		return
	}
	changed, now, err := cur.changed(m.cfg.Files)
	if err == nil && !changed {
		return
	}
	if err == nil && slices.Equal(now, m.tried) {
		return
	}
	set, lerr := loadStatic(m.cfg.Files)
	if lerr != nil {
		if err == nil {
			m.tried = now
		}
		m.log.Error("certificate files unreadable; the ones loaded before keep serving", "err", lerr)
		return
	}
	m.tried = nil
	m.static.Store(set)
	m.log.Info("certificate files reloaded", "certificates", len(set.certs))
}

// Watch reloads the certificate files every interval until ctx ends.
func (m *Manager) Watch(ctx context.Context, interval time.Duration) {
	if m.static.Load() == nil || interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.Reload()
		}
	}
}

// Close stops the renewals and certmagic's maintenance.
func (m *Manager) Close() {
	if m.stop != nil {
		m.stop()
		<-m.done
	}
	if m.cache != nil {
		m.cache.Stop()
	}
}

// A Cert is a certificate in use.
type Cert struct {
	Names    []string
	NotAfter time.Time
	// Source is "file" or "acme".
	Source string
}

// Certificates lists the certificates in use: the operator's, and the
// ACME certificates loaded or ordered so far.
func (m *Manager) Certificates() []Cert {
	var out []Cert
	if set := m.static.Load(); set != nil {
		for _, c := range set.certs {
			out = append(out, Cert{Names: certNames(*c), NotAfter: c.Leaf.NotAfter, Source: "file"})
		}
	}
	if m.cache != nil {
		seen := map[string]bool{}
		m.names.Range(func(k, _ any) bool {
			for _, c := range m.cache.AllMatchingCertificates(k.(string)) {
				if c.Leaf == nil || seen[c.Hash()] {
					continue
				}
				seen[c.Hash()] = true
				out = append(out, Cert{Names: slices.Clone(c.Names), NotAfter: c.Leaf.NotAfter, Source: "acme"})
			}
			return true
		})
	}
	slices.SortFunc(out, func(a, b Cert) int { return a.NotAfter.Compare(b.NotAfter) })
	return out
}

// Stats are the Manager's counts since it started.
type Stats struct {
	// Refused counts handshakes for names the gateway does not serve.
	Refused uint64
	// Obtained and Failed count ACME orders (renewals included).
	Obtained, Failed uint64
}

// Stats returns the counts.
func (m *Manager) Stats() Stats {
	return Stats{Refused: m.refused.Load(), Obtained: m.obtained.Load(), Failed: m.failed.Load()}
}

// ExpiryWarning is how close to its expiry a certificate is named on
// /readyz.
const ExpiryWarning = 7 * 24 * time.Hour

// Describe says, for /readyz, how many certificates are in use and which
// expire within ExpiryWarning of now.
func (m *Manager) Describe(now time.Time) string {
	certs := m.Certificates()
	var b strings.Builder
	fmt.Fprintf(&b, "https: %d certificates in use\n", len(certs))
	for _, c := range certs {
		left := c.NotAfter.Sub(now)
		if left > ExpiryWarning {
			break
		}
		what := "expires in " + span(left)
		if left <= 0 {
			what = "expired " + span(-left) + " ago"
		}
		fmt.Fprintf(&b, "https: certificate for %s (%s) %s, at %s\n", strings.Join(c.Names, ", "), c.Source, what, c.NotAfter.UTC().Format(time.RFC3339))
	}
	return b.String()
}

// span writes d in days, hours and minutes, rounded down: "2d23h59m".
func span(d time.Duration) string {
	m := int64(d / time.Minute)
	return fmt.Sprintf("%dd%dh%dm", m/(24*60), m/60%24, m%60)
}

// normalize lower-cases a server name and drops a trailing dot.
func normalize(name string) string {
	name = strings.TrimSuffix(name, ".")
	for i := range len(name) {
		if c := name[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(name)
		}
	}
	return name
}

// hostOnly drops the port of a Host header.
func hostOnly(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		return host[:i]
	}
	return host
}

// splitPort splits a listener's address into its host and port number.
func splitPort(addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(port)
	if err != nil || n <= 0 || n > 65535 {
		return "", 0, fmt.Errorf("%q: not a port number", port)
	}
	return host, n, nil
}

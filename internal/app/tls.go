package app

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"portico/internal/certs"
	"portico/internal/config"
	"portico/internal/manifest"
	"portico/internal/metrics"
	"portico/internal/server"
	"portico/internal/tlsstore"
)

// hstsValue is the Strict-Transport-Security of the app's and of
// HTTPS-only domains' HTTPS answers: a year, for the name answered only;
// other names under the same domain may serve plain HTTP on purpose.
var hstsValue = []string{"max-age=31536000"}

// listenHTTPS binds the HTTPS listener and builds its certificates, with
// the plain listener ln bound already: certmagic must know where the
// challenges are answered. It returns the plain listener's handler: h
// behind the answers to the CA's HTTP-01 challenges.
func (a *App) listenHTTPS(ln net.Listener, h http.Handler, lim server.Limits) (http.Handler, error) {
	cfg := a.cfg.TLS
	if !cfg.HTTPS() {
		return h, nil
	}
	tln, err := net.Listen("tcp", cfg.HTTPSListen)
	if err != nil {
		return nil, fmt.Errorf("https listener: %w", err)
	}
	a.closers.push(func(context.Context) { _ = tln.Close() }) // until the server owns it
	mcfg := certs.Config{Allowed: a.serves, Logger: a.log}
	for i := range cfg.Certs {
		mcfg.Files = append(mcfg.Files, certs.Pair{Cert: cfg.Certs[i], Key: cfg.Keys[i]})
	}
	if cfg.ACME() {
		backend, ok := a.an.store.(tlsstore.Backend)
		if !ok {
			return nil, errors.New("certificates from an ACME CA are kept in the store, and there is none: give --tls-cert and --tls-key with --acme-ca off")
		}
		st := tlsstore.New(backend, tlsstore.Options{Logger: a.log})
		// After certmagic stops (pushed next), the locks it still
		// holds are released rather than left to expire.
		a.closers.push(func(ctx context.Context) { st.Close(ctx) })
		acme := &certs.ACME{CA: cfg.ACMECA, Email: cfg.ACMEEmail, PerMinute: cfg.ACMERate, Storage: st,
			HTTPAddr: ln.Addr().String(), TLSAddr: tln.Addr().String()}
		if cfg.ACMECARoot != "" {
			if acme.Roots, err = readRoots(cfg.ACMECARoot); err != nil {
				return nil, err
			}
		}
		mcfg.ACME = acme
	}
	m, err := certs.New(mcfg)
	if err != nil {
		return nil, fmt.Errorf("https: %w", err)
	}
	a.certs = m
	a.closers.push(func(context.Context) { m.Close() })
	a.metrics.WatchTLS(func() []metrics.CertExpiry {
		var out []metrics.CertExpiry
		for _, c := range m.Certificates() {
			if len(c.Names) > 0 {
				out = append(out, metrics.CertExpiry{Name: c.Names[0], Source: c.Source, NotAfter: c.NotAfter})
			}
		}
		return out
	}, func() metrics.TLSCounts {
		s := m.Stats()
		return metrics.TLSCounts{Refused: s.Refused, Obtained: s.Obtained, Failed: s.Failed}
	})
	// Redirects name the port clients see, which differs from the
	// listener's behind a port mapping (a container's 8443 published
	// as 443).
	p := cfg.HTTPSPort
	if _, port, err := net.SplitHostPort(tln.Addr().String()); err == nil && p == 0 {
		p, _ = strconv.Atoi(port)
	}
	a.router.SetHTTPSPort(p)
	a.httpsPort = p
	a.https = server.NewTLS("https", tln, h, m.TLSConfig(), lim, a.log)
	a.closers.push(func(ctx context.Context) { _ = a.https.Shutdown(ctx) })
	return m.HTTPChallenge(h), nil
}

// readRoots reads a PEM file of CA certificates.
func readRoots(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--acme-ca-root: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("--acme-ca-root %s: no PEM certificate in it", path)
	}
	return pool, nil
}

// serves reports whether the gateway serves name, a lower-case host
// name: a host of the routing table (with rules, or a domain of the
// store without packages yet) or the app's domain. It decides which
// names get certificates, at every handshake no file covers: one map
// lookup in the current table.
func (a *App) serves(name string) bool {
	return (a.appHost != "" && name == a.appHost) || a.router.Table().Serves(name)
}

// watchCertFiles reads the certificate files again when they change and
// on SIGHUP, until the function it returns stops it.
func (a *App) watchCertFiles() func(context.Context) {
	if a.certs == nil || len(a.cfg.TLS.Certs) == 0 {
		return func(context.Context) {}
	}
	ctx, stop := context.WithCancel(context.Background())
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	var wg sync.WaitGroup
	wg.Go(func() { a.certs.Watch(ctx, max(a.cfg.ReloadInterval, 0)) })
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				a.certs.Reload()
			}
		}
	})
	return func(context.Context) {
		signal.Stop(hup)
		stop()
		wg.Wait()
	}
}

// describeTLS is the HTTPS part of /readyz: certificates in use, and
// those close to their expiry. It never makes the gateway unready: plain
// HTTP still serves, and a renewal may be under way.
func (a *App) describeTLS() (bool, string) {
	if a.certs == nil {
		return true, ""
	}
	return true, a.certs.Describe(time.Now())
}

// appOverHTTPS wraps the app: answers over HTTPS (or through a trusted
// proxy that terminated it) carry HSTS. With redirect (the app on the
// gateway listener for --app-domain) and HTTPS on, a browser's plain
// navigation (Upgrade-Insecure-Requests: 1) is redirected to HTTPS.
// Other plain requests, API clients', are served: plain HTTP stays for
// clients that want it.
func (a *App) appOverHTTPS(app http.Handler, redirect bool) http.Handler {
	redirect = redirect && a.cfg.TLS.HTTPS() && a.appHost != ""
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, secure, _ := a.trusted.Forwarded(r)
		switch {
		case secure:
			w.Header()["Strict-Transport-Security"] = hstsValue
		case redirect && r.Header.Get("Upgrade-Insecure-Requests") == "1" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			host := a.appHost
			if a.httpsPort != 0 && a.httpsPort != 443 {
				host += ":" + strconv.Itoa(a.httpsPort)
			}
			w.Header().Set("Vary", "Upgrade-Insecure-Requests")
			http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusTemporaryRedirect)
			return
		}
		app.ServeHTTP(w, r)
	})
}

// appHostKey is the host key of --app-domain, "" without one.
func appHostKey(domain string) string {
	if domain == "" {
		return ""
	}
	key, _ := manifest.HostKey(domain)
	return key
}

// acmeCA names the ACME CA for the log: its URL, or "off".
func acmeCA(c config.TLS) string {
	if !c.ACME() {
		return "off"
	}
	return c.ACMECA
}

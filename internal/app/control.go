package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"runtime/debug"
	"time"

	"portico/internal/app/api"
	"portico/internal/app/web"
	"portico/internal/autocreate"
	"portico/internal/badge/badgehttp"
	"portico/internal/control"
	"portico/internal/gateway"
	"portico/internal/manifest"
	"portico/internal/reload"
	"portico/internal/route"
	"portico/internal/server"
	"portico/internal/stats"
	"portico/internal/store"
)

// controlPlane is the part of the process that the store's packages,
// collections and domains need: the store as a source of rules, the
// service that changes them and the app listener's API.
type controlPlane struct {
	store  control.Store
	source *reload.Store
	svc    *control.Service
	// creator creates the packages of collections' downloads.
	creator *autocreate.Creator
	app     http.Handler
}

// settleTimeout bounds how long an API request waits for the packages of
// earlier downloads to be created: with the store down, it would not
// answer either.
const settleTimeout = 5 * time.Second

// maintainControlEvery is how often expired sessions are deleted and
// domains due for a check are checked.
const maintainControlEvery = time.Minute

// newControlPlane prepares the control plane over the analytics store,
// if it keeps the control plane's entities (both stores do). The
// service is finished by startControl once the loader exists.
func (a *App) newControlPlane() (*controlPlane, error) {
	if a.an.store == nil {
		return nil, nil
	}
	st, ok := a.an.store.(control.Store)
	if !ok {
		return nil, fmt.Errorf("the %s store keeps no control plane", a.an.store.Describe())
	}
	cfg := a.cfg
	src := reload.NewStore(reload.StoreConfig{
		Store:      st,
		BaseDomain: cfg.Control.BaseDomain,
		LocalCopy:  filepath.Join(cfg.Analytics.Data, "routes.json"),
		Logger:     a.log,
	})
	return &controlPlane{store: st, source: src}, nil
}

// startControl builds the service, the API and the dashboard once the loader serves
// the rules: the service checks new rules against the manifest's rules
// in use, and reloads the store's after every routing change.
func (a *App) startControl(file reload.Source) error {
	cp, cfg := a.control, a.cfg
	manifestRules := func() []manifest.Rule {
		if file == nil {
			return nil
		}
		return a.loader.Rules(file)
	}
	checker := &route.Checker{Others: func(host string) []manifest.Rule {
		var out []manifest.Rule
		for _, r := range manifestRules() {
			if r.Common().Host == host {
				out = append(out, r)
			}
		}
		return out
	}}
	cp.svc = control.New(control.Config{
		Store: cp.store,
		Rules: checker,
		Domains: control.DomainPolicy{
			Resolver:    newResolver(cfg.Control.DNSResolver),
			CNAMETarget: cfg.Control.CNAMETarget,
		},
		BaseDomain:         cfg.Control.BaseDomain,
		SessionTTL:         cfg.Control.SessionTTL,
		Manifest:           func() []control.Package { return manifestPackages(manifestRules()) },
		CollectionPackages: cfg.Control.CollectionPackages,
		Routed: func(context.Context) {
			if _, err := a.loader.ReloadSource(cp.source); err != nil {
				a.log.Error("routing the store's change", "err", err)
			}
		},
		Logger: a.log,
	})
	cp.creator = autocreate.New(autocreate.Config{
		Create: func(ctx context.Context, c gateway.Collected) (bool, error) {
			_, created, err := cp.svc.AutoCreate(ctx, c.Collection, c.Artifact)
			return created, err
		},
		// The service's refusals say what is wrong with the request;
		// other errors are the store's, and may pass.
		Permanent: func(err error) bool { return control.KindOf(err) != 0 },
		PerMinute: cfg.Control.CollectionRate,
		Logger:    a.log,
	})
	a.router.SetCollector(cp.creator)
	a.metrics.Registry.MustRegister(cp.creator.Collectors()...)
	var exporter store.Exporter
	if e, ok := a.an.store.(store.Exporter); ok {
		exporter = e
	}
	st := stats.New(a.an.store)
	apiHandler := api.New(api.Config{
		Service:    cp.svc,
		Stats:      st,
		Exporter:   exporter,
		Trusted:    a.trusted,
		SessionTTL: cfg.Control.SessionTTL,
		Logger:     a.log,
	})
	public := ""
	if cfg.Control.AppDomain != "" {
		public = "https://" + cfg.Control.AppDomain
	}
	dashboard, err := web.New(web.Config{
		Service:   cp.svc,
		Sessions:  apiHandler,
		Stats:     st,
		PublicURL: public,
		Badges:    true,
		Logger:    a.log,
	})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", apiHandler)
	badges, err := badgehttp.New(badgehttp.Config{
		Counts: &badgeCounts{svc: cp.svc, stats: st, now: time.Now},
		Log:    a.log,
	})
	if err != nil {
		return fmt.Errorf("badges: %w", err)
	}
	for _, p := range badgehttp.Patterns() {
		mux.Handle(p, badges)
	}
	a.router.SetExtra(badgeExtra{badges})
	mux.Handle("/", dashboard)
	cp.app = settled(cp.creator, mux)
	return nil
}

// badgeExtra puts badges on the gateway listener, for the paths that no
// rule of the request's host answers.
type badgeExtra struct{ *badgehttp.Handler }

func (badgeExtra) Handles(path string) bool { return badgehttp.Handles(path) }

// settled answers each request once the packages of the downloads served
// before it are created (or their creation failed), so that the API
// lists the package of a download its client has just made.
func settled(cr *autocreate.Creator, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), settleTimeout)
		_ = cr.Settle(ctx)
		cancel()
		h.ServeHTTP(w, r)
	})
}

// manifestPackages shows the manifest's rules as read-only packages.
func manifestPackages(rules []manifest.Rule) []control.Package {
	out := make([]control.Package, 0, len(rules))
	for _, r := range rules {
		id := manifest.PackageID(r)
		data, err := manifest.EncodeRuleWithoutID(r)
		if err != nil || id == "" {
			continue
		}
		out = append(out, control.Package{ID: id, Name: id, Host: r.Common().Host, Rule: data, Source: control.SourceManifest})
	}
	return out
}

// newResolver returns the resolver that verifies domains: the system's,
// or the DNS server at addr.
func newResolver(addr string) *net.Resolver {
	if addr == "" {
		return net.DefaultResolver
	}
	var d net.Dialer
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}}
}

// listenApp binds the app listener.
func (a *App) listenApp(lim server.Limits) error {
	if a.control == nil || a.cfg.Control.AppListen == "off" {
		return nil
	}
	srv, err := server.Listen("app", a.cfg.Control.AppListen, a.appOverHTTPS(a.control.app, false), lim, a.log)
	if err != nil {
		return fmt.Errorf("app listener: %w", err)
	}
	a.app = srv
	a.closers.push(func(ctx context.Context) { _ = srv.Shutdown(ctx) })
	return nil
}

// gatewayHandler is what the gateway listener serves: the router, and
// the app for --app-domain.
func (a *App) gatewayHandler() http.Handler {
	if a.control == nil || a.appHost == "" {
		return a.router
	}
	appHost, app, gw := a.appHost, a.appOverHTTPS(a.control.app, true), a.router
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if key, _, ok := route.ParseHost(r.Host); ok && key == appHost {
			app.ServeHTTP(w, r)
			return
		}
		gw.ServeHTTP(w, r)
	})
}

// maintainControl deletes expired sessions and checks the custom
// domains that are due, until ctx ends.
func (a *App) maintainControl(ctx context.Context) {
	t := time.NewTicker(maintainControlEvery)
	defer t.Stop()
	first := true
	for {
		if err := a.control.svc.DeleteExpired(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("deleting expired sessions", "err", err)
		}
		if n, err := a.control.svc.RecheckDomains(ctx, a.cfg.Control.DomainCheckInterval); err != nil && ctx.Err() == nil {
			a.log.Error("checking domains", "err", err)
		} else if n > 0 {
			a.log.Info("domains checked", "domains", n)
		}
		if first {
			// The first pass, at start, reads every domain right after
			// the first table was compiled: its garbage goes back to
			// the system too (see loadRules).
			first = false
			debug.FreeOSMemory()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

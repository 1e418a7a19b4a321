// Package api serves Portico's REST API under /api/v1: sessions, users,
// organizations and their members, packages, domains, collections,
// tokens, download statistics and exports. Every endpoint is described by
// the OpenAPI document it serves at /api/v1/openapi.json, and the tests
// hold the two to each other.
//
// Requests authenticate with an API token (Authorization: Bearer …) or
// the session cookie a sign-in sets. Unsafe requests from another origin
// are refused (http.CrossOriginProtection), which protects the cookie
// without tokens in forms. Errors are JSON objects
// {"error":{"code":…,"message":…,"field":…}}; lists take limit and cursor
// and answer {"items":[…],"next_cursor":…}.
package api

import (
	_ "embed"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"portico/internal/clientip"
	"portico/internal/control"
	"portico/internal/stats"
	"portico/internal/store"
)

// SessionCookie is the name of the session cookie.
const SessionCookie = "portico_session"

// Config configures the API.
type Config struct {
	Service *control.Service
	// Stats answers the statistics endpoints and Exporter the export;
	// nil when the gateway runs without a store, and the endpoints then
	// answer 503.
	Stats    *stats.Stats
	Exporter store.Exporter
	// Trusted says whose X-Forwarded-For and X-Forwarded-Proto to
	// believe (for sign-in rate limits and secure cookies).
	Trusted *clientip.Trusted
	// SessionTTL is the session cookie's lifetime.
	SessionTTL time.Duration
	Logger     *slog.Logger
	// Now is the clock of the sign-in limits; nil uses time.Now.
	Now func() time.Time
}

// API is the REST API's handler.
type API struct {
	svc      *control.Service
	stats    *stats.Stats
	exporter store.Exporter
	trusted  *clientip.Trusted
	ttl      time.Duration
	log      *slog.Logger
	limits   *signInLimits
	now      func() time.Time
	handler  http.Handler
}

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the API's OpenAPI document.
func OpenAPI() []byte { return openAPI }

// New returns the API. Mount it at /api/.
func New(cfg Config) *API {
	a := &API{svc: cfg.Service, stats: cfg.Stats, exporter: cfg.Exporter, trusted: cfg.Trusted,
		ttl: cfg.SessionTTL, log: cfg.Logger, limits: newSignInLimits(), now: cfg.Now}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.ttl <= 0 {
		a.ttl = control.DefaultSessionTTL
	}
	if a.trusted == nil {
		a.trusted, _ = clientip.ParseTrusted("")
	}
	mux := http.NewServeMux()
	for _, rt := range a.routes() {
		mux.Handle(rt.pattern, rt.handler)
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		// The catch-all takes every method, so the mux never answers 405
		// itself: find out whether the path exists for other methods.
		if allowed := allowedMethods(mux, r); len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			a.writeError(w, r, newError(http.StatusMethodNotAllowed, "method_not_allowed", "", "%s is not allowed here; allowed: %s", r.Method, strings.Join(allowed, ", ")))
			return
		}
		a.writeError(w, r, newError(http.StatusNotFound, "not_found", "", "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.writeError(w, r, newError(http.StatusForbidden, "cross_origin", "", "cross-origin requests that change something are refused"))
	}))
	a.handler = csrf.Handler(mux)
	return a
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.handler.ServeHTTP(w, r) }

// An endpoint is one route: its pattern (method and path, as http.ServeMux
// takes them) and its handler.
type endpoint struct {
	pattern string
	handler http.Handler
}

// Routes returns the patterns the API serves, for the test that holds
// them to the OpenAPI document.
func (a *API) Routes() []string {
	var out []string
	for _, rt := range a.routes() {
		out = append(out, rt.pattern)
	}
	return out
}

// handlerFunc is an endpoint that returns its error instead of writing
// it.
type handlerFunc func(w http.ResponseWriter, r *http.Request, p control.Principal) error

// authed wraps an endpoint that needs a principal.
func (a *API) authed(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.principal(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if err := h(w, r, p); err != nil {
			a.writeError(w, r, err)
		}
	})
}

// open wraps an endpoint that needs no principal.
func (a *API) open(h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			a.writeError(w, r, err)
		}
	})
}

// Principal authenticates r as every endpoint does: by its bearer token
// or session cookie.
func (a *API) Principal(r *http.Request) (control.Principal, error) { return a.principal(r) }

// principal authenticates r by its bearer token or session cookie.
func (a *API) principal(r *http.Request) (control.Principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, secret, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" {
			return control.Principal{}, newError(http.StatusUnauthorized, "unauthenticated", "", "the Authorization header must be \"Bearer <token>\"")
		}
		return a.svc.Authenticate(r.Context(), strings.TrimSpace(secret))
	}
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		return a.svc.Authenticate(r.Context(), c.Value)
	}
	return control.Principal{}, newError(http.StatusUnauthorized, "unauthenticated", "", "sign in, or send an API token as \"Authorization: Bearer <token>\"")
}

// allowedMethods returns the methods the API serves r's path with.
func allowedMethods(mux *http.ServeMux, r *http.Request) []string {
	var out []string
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/api/" {
			out = append(out, m)
		}
	}
	return out
}

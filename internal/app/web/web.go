// Package web serves Portico's dashboard on the app listener at /, beside
// the REST API: sign-in, packages with their install commands, badges,
// members and analytics, the forms that create and edit packages,
// domains, collections, organizations and API tokens.
//
// Pages are rendered on the server with html/template; the style sheet,
// a little script and nothing else are embedded in the binary. Every
// page works without the script, which only adds copy buttons, the live
// download count and the preview of the install command.
//
// The dashboard asks the same control.Service and stats code as the API,
// with the principal of the API's session cookie, so the two can never
// disagree on what someone may see or do: the dashboard hides what a role
// may not do, and the service refuses it anyway. Form posts from another
// origin are refused by http.CrossOriginProtection, as the API's are.
package web

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"portico/internal/app/api"
	"portico/internal/control"
	"portico/internal/stats"
)

// Sessions signs browsers in and out and says who a request acts for;
// the API implements it, so that the dashboard shares its cookie, its
// sign-in limits and its authentication.
type Sessions interface {
	StartSession(w http.ResponseWriter, r *http.Request, email, password string) (control.User, error)
	EndSession(w http.ResponseWriter, r *http.Request) error
	Principal(r *http.Request) (control.Principal, error)
}

// Config configures the dashboard.
type Config struct {
	Service  *control.Service
	Sessions Sessions
	// Stats answers the analytics; nil when the gateway runs without a
	// store, and the pages then say so.
	Stats *stats.Stats
	// PublicURL is where users reach the app listener
	// ("https://app.acme.dev"), for the badge snippets; empty uses the
	// request's own host.
	PublicURL string
	// Badges says whether the badge URLs answer on this listener: the
	// package page then shows the badges beside their snippets.
	Badges bool
	Logger *slog.Logger
	// Now is the clock of the analytics ranges; nil uses time.Now.
	Now func() time.Time
}

// Web is the dashboard's handler.
type Web struct {
	svc      *control.Service
	sessions Sessions
	stats    *stats.Stats
	public   string
	badges   bool
	log      *slog.Logger
	now      func() time.Time
	pages    map[string]*template.Template
	handler  http.Handler
}

//go:embed templates
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// New returns the dashboard. Mount it at /.
func New(cfg Config) (*Web, error) {
	w := &Web{svc: cfg.Service, sessions: cfg.Sessions, stats: cfg.Stats, public: strings.TrimSuffix(cfg.PublicURL, "/"),
		badges: cfg.Badges, log: cfg.Logger, now: cfg.Now}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.now == nil {
		w.now = time.Now
	}
	var err error
	if w.pages, err = parsePages(); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	w.routes(mux)
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.fail(rw, r, nil, http.StatusForbidden, "This form was sent from another site, so it was refused. Go back, reload the page and send it again.")
	}))
	w.handler = securityHeaders(csrf.Handler(mux))
	return w, nil
}

// ServeHTTP implements http.Handler.
func (w *Web) ServeHTTP(rw http.ResponseWriter, r *http.Request) { w.handler.ServeHTTP(rw, r) }

// securityHeaders keeps the pages from being framed or sniffed, and
// allows scripts, styles and images from the app listener only.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}

// routes registers every page.
func (w *Web) routes(mux *http.ServeMux) {
	static, _ := fs.Sub(staticFS, "static")
	files := http.FileServerFS(static)
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(rw, r)
	})))
	mux.HandleFunc("GET /{$}", w.home)
	mux.HandleFunc("GET /signin", w.signInPage)
	mux.HandleFunc("POST /signin", w.signIn)
	mux.HandleFunc("POST /signout", w.signOut)

	mux.Handle("GET /packages", w.authed(w.listPackages))
	mux.Handle("GET /packages/new", w.authed(w.newPackagePage))
	mux.Handle("POST /packages/new", w.authed(w.createPackage))
	mux.Handle("GET /packages/preview", w.authed(w.preview))
	mux.Handle("GET /packages/{id}", w.authed(w.packagePage))
	mux.Handle("GET /packages/{id}/edit", w.authed(w.editPackagePage))
	mux.Handle("POST /packages/{id}/edit", w.authed(w.updatePackage))
	mux.Handle("POST /packages/{id}/delete", w.authed(w.deletePackage))
	mux.Handle("POST /packages/{id}/members", w.authed(w.setPackageMember))
	mux.Handle("GET /packages/{id}/live", w.authed(w.live))
	mux.Handle("GET /packages/{id}/analytics", w.authed(w.packageAnalytics))
	mux.Handle("GET /packages/{id}/analytics.csv", w.authed(w.packageAnalyticsCSV))

	mux.Handle("GET /domains", w.authed(w.listDomains))
	mux.Handle("POST /domains", w.authed(w.addDomain))
	mux.Handle("POST /domains/{name}/verify", w.authed(w.verifyDomain))
	mux.Handle("POST /domains/{name}/delete", w.authed(w.removeDomain))

	mux.Handle("GET /collections", w.authed(w.listCollections))
	mux.Handle("POST /collections", w.authed(w.createCollection))
	mux.Handle("GET /collections/{id}", w.authed(w.collectionPage))
	mux.Handle("POST /collections/{id}/delete", w.authed(w.deleteCollection))

	mux.Handle("GET /orgs", w.authed(w.listOrgs))
	mux.Handle("POST /orgs", w.authed(w.createOrg))
	mux.Handle("GET /orgs/{org}", w.authed(w.orgPage))
	mux.Handle("POST /orgs/{org}/members", w.authed(w.setOrgMember))
	mux.Handle("GET /orgs/{org}/analytics", w.authed(w.orgAnalytics))
	mux.Handle("GET /orgs/{org}/analytics.csv", w.authed(w.orgAnalyticsCSV))

	mux.Handle("GET /tokens", w.authed(w.listTokens))
	mux.Handle("POST /tokens", w.authed(w.createToken))
	mux.Handle("POST /tokens/{id}/revoke", w.authed(w.revokeToken))

	mux.HandleFunc("/", func(rw http.ResponseWriter, r *http.Request) {
		w.fail(rw, r, nil, http.StatusNotFound, "There is no page at "+r.URL.Path+".")
	})
}

// A handler is a page that needs a signed-in principal. It returns the
// error of the service, which fail shows.
type handler func(rw http.ResponseWriter, r *http.Request, p control.Principal) error

// authed runs h for a signed-in principal. Anyone else is sent to the
// sign-in page, and comes back to the page asked for afterwards.
func (w *Web) authed(h handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		p, err := w.sessions.Principal(r)
		if err != nil {
			if control.KindOf(err) == control.KindUnauthenticated || isAPIStatus(err, http.StatusUnauthorized) {
				if r.Method == http.MethodGet && !strings.HasSuffix(r.URL.Path, "/live") {
					http.Redirect(rw, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
					return
				}
				w.fail(rw, r, nil, http.StatusUnauthorized, "Your session has ended: sign in again.")
				return
			}
			w.serviceError(rw, r, nil, err)
			return
		}
		if err := h(rw, r, p); err != nil {
			w.serviceError(rw, r, &p, err)
		}
	})
}

// describeErr is what the API shows of an error.
var describeErr = api.Describe

func isAPIStatus(err error, status int) bool {
	st, _, _, ok := api.Describe(err)
	return ok && st == status
}

// view is what every page template gets.
type view struct {
	Title string
	// Nav names the section of the navigation the page belongs to.
	Nav string
	// Me is the signed-in user, nil on the sign-in page.
	Me *control.User
	// Notice is a message at the top of the page, Problem an error
	// there; Errors are messages next to the form fields they name.
	Notice, Problem string
	Errors          map[string]string
	Data            any
}

// render writes a page with status.
func (w *Web) render(rw http.ResponseWriter, r *http.Request, status int, name string, v view) {
	t, ok := w.pages[name]
	if !ok {
		panic("web: no page template " + name)
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout", v); err != nil {
		if r.Context().Err() == nil {
			w.log.Error("rendering a page", "page", name, "err", err)
		}
		http.Error(rw, "the page could not be rendered: the error is logged", http.StatusInternalServerError)
		return
	}
	h := rw.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	rw.WriteHeader(status)
	_, _ = rw.Write(b.Bytes())
}

// me returns the principal's user for the layout.
func me(p *control.Principal) *control.User {
	if p == nil || (p.User.ID == "" && !p.User.ServerAdmin) {
		return nil
	}
	u := p.User
	return &u
}

// fail shows an error page.
func (w *Web) fail(rw http.ResponseWriter, r *http.Request, p *control.Principal, status int, message string) {
	w.render(rw, r, status, "error", view{Title: http.StatusText(status), Me: me(p), Problem: message, Data: status})
}

// serviceError shows an error of the service as the API describes it.
func (w *Web) serviceError(rw http.ResponseWriter, r *http.Request, p *control.Principal, err error) {
	status, field, message, ok := api.Describe(err)
	if !ok {
		if r.Context().Err() != nil {
			return
		}
		w.log.Error("dashboard request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if field != "" {
		message = field + ": " + message
	}
	w.fail(rw, r, p, status, sentence(message))
}

// sentence starts s with a capital letter and ends it with a full stop.
func sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// fieldErrors returns the message of err for the form, keyed by the
// request field it names ("" for the form as a whole), or ok false for
// errors that are not the client's.
func fieldErrors(err error) (map[string]string, bool) {
	status, field, message, ok := api.Describe(err)
	if !ok || status >= 500 {
		return nil, false
	}
	return map[string]string{field: sentence(message)}, true
}

// seeOther answers a form post with a redirect to the page that shows
// its result, with a notice.
func seeOther(rw http.ResponseWriter, r *http.Request, path, notice string) {
	if notice != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "notice=" + url.QueryEscape(notice)
	}
	http.Redirect(rw, r, path, http.StatusSeeOther)
}

// notice returns the notice a redirect carried. It is shown as text,
// escaped like everything else, so a crafted link can at most show a
// sentence on the visitor's own screen; it is capped to keep it that.
func notice(r *http.Request) string {
	n := r.URL.Query().Get("notice")
	if len(n) > 200 {
		n = n[:200]
	}
	return n
}

// home sends visitors to their packages, or to sign in.
func (w *Web) home(rw http.ResponseWriter, r *http.Request) {
	if _, err := w.sessions.Principal(r); err != nil {
		http.Redirect(rw, r, "/signin", http.StatusSeeOther)
		return
	}
	http.Redirect(rw, r, "/packages", http.StatusSeeOther)
}

type signInData struct {
	Email, Next string
}

func (w *Web) signInPage(rw http.ResponseWriter, r *http.Request) {
	w.render(rw, r, http.StatusOK, "signin", view{Title: "Sign in", Notice: notice(r), Data: signInData{Next: localPath(r.URL.Query().Get("next"))}})
}

func (w *Web) signIn(rw http.ResponseWriter, r *http.Request) {
	email, password := r.PostFormValue("email"), r.PostFormValue("password")
	next := localPath(r.PostFormValue("next"))
	if _, err := w.sessions.StartSession(rw, r, email, password); err != nil {
		status, _, message, ok := api.Describe(err)
		if !ok {
			w.serviceError(rw, r, nil, err)
			return
		}
		w.render(rw, r, status, "signin", view{Title: "Sign in", Problem: sentence(message), Data: signInData{Email: email, Next: next}})
		return
	}
	if next == "" {
		next = "/packages"
	}
	http.Redirect(rw, r, next, http.StatusSeeOther)
}

func (w *Web) signOut(rw http.ResponseWriter, r *http.Request) {
	if err := w.sessions.EndSession(rw, r); err != nil {
		w.serviceError(rw, r, nil, err)
		return
	}
	seeOther(rw, r, "/signin", "You are signed out.")
}

// localPath returns s if it is a path on this site, "" otherwise, so
// that the page after sign-in can never be another site.
func localPath(s string) string {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/\\") || strings.ContainsAny(s, "\r\n") {
		return ""
	}
	return s
}

// parsePages parses each page template with the layout and the shared
// parts.
func parsePages() (map[string]*template.Template, error) {
	base, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("dashboard templates: %w", err)
	}
	names, err := fs.Glob(templateFS, "templates/page-*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		t, err := template.Must(base.Clone()).ParseFS(templateFS, n)
		if err != nil {
			return nil, fmt.Errorf("dashboard templates: %w", err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/page-"), ".html")
		pages[name] = t
	}
	if len(pages) == 0 {
		return nil, errors.New("dashboard templates: no pages")
	}
	return pages, nil
}

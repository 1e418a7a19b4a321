package route

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"portico/internal/clientip"
	"portico/internal/event"
	"portico/internal/gateway"
)

// An Emitter takes events off the request path. Emit must not block. The
// event is passed by value so that building it never allocates.
type Emitter interface {
	Emit(e event.Event)
}

// An Observer records the outcome of every request, counted or not.
type Observer interface {
	Observe(kind event.Kind, outcome event.Outcome, status int, elapsed time.Duration)
}

// A Recorder is a ResponseWriter that wants to know what the router made
// of its request: the access log and traces, which wrap the router. The
// router tells it once per request, after answering.
type Recorder interface {
	RecordResult(host string, kind event.Kind, outcome event.Outcome)
}

// A Collector creates the packages of collections' downloads, off the
// request path. Collect must not block.
type Collector interface {
	Collect(c gateway.Collected)
}

// An Extra answers requests that no rule answers, on paths it handles,
// whatever their host: the gateway's badges.
type Extra interface {
	http.Handler
	// Handles reports whether the Extra answers path.
	Handles(path string) bool
}

// Router serves every request from the current Table.
type Router struct {
	table     atomic.Pointer[Table]
	trusted   *clientip.Trusted
	emitter   Emitter
	observer  Observer
	collector Collector
	extra     Extra
	fallback  DefaultDomain
	log       *slog.Logger
	// httpsPort is what redirects to HTTPS put after the host: "" for
	// 443, else ":PORT".
	httpsPort string
}

// SetHTTPSPort sets the port that redirects to HTTPS name, the public
// port of the HTTPS listener; without it, or with 443, they name none.
// Call it before the router serves.
func (rt *Router) SetHTTPSPort(port int) {
	rt.httpsPort = ""
	if port != 0 && port != 443 {
		rt.httpsPort = ":" + strconv.Itoa(port)
	}
}

// SetExtra sets what answers the requests that no rule answers on the
// paths it handles. Rules come first, so that a domain's own rules keep
// every path they serve, as in Scarf Gateway. Call it before the router
// serves.
func (rt *Router) SetExtra(x Extra) { rt.extra = x }

// SetCollector sets what creates the packages of collections' downloads.
// Without one, collections serve and count downloads but create nothing.
// Call it before the router serves.
func (rt *Router) SetCollector(c Collector) { rt.collector = c }

// DefaultDomain says which domain answers a request whose host no domain
// of the table names, as a web server's default server does. The zero
// value answers such requests 404.
type DefaultDomain struct {
	// Name is the domain (a manifest host key) that answers.
	Name string
	// Sole, when Name is "", makes the table's only domain answer, if
	// it has exactly one: Scarf Gateway's command line serves its one
	// domain whatever the host.
	Sole bool
}

// SetDefaultDomain sets the domain that answers requests for unknown
// hosts, and the logger that notes, at debug level, each request no
// domain answers. Call it before the router serves.
func (rt *Router) SetDefaultDomain(d DefaultDomain, log *slog.Logger) {
	rt.fallback, rt.log = d, log
}

// DescribeDefault says, for /readyz, which domain answers unknown hosts
// in the current table: "" when none does.
func (rt *Router) DescribeDefault() string {
	if d := rt.fallbackDomain(rt.table.Load()); d != nil {
		return "default domain: " + d.Name + " (answers hosts no domain names)\n"
	}
	return ""
}

// fallbackDomain returns the domain that answers unknown hosts in t, or
// nil.
func (rt *Router) fallbackDomain(t *Table) *Domain {
	switch {
	case rt.fallback.Name != "":
		return t.Domain(rt.fallback.Name)
	case rt.fallback.Sole:
		return t.Only()
	}
	return nil
}

// NewRouter returns a router serving t. emitter and observer may be nil.
func NewRouter(t *Table, trusted *clientip.Trusted, emitter Emitter, observer Observer) *Router {
	rt := &Router{trusted: trusted, emitter: emitter, observer: observer}
	rt.table.Store(t)
	return rt
}

// Swap makes t the table for all requests that start after it returns.
func (rt *Router) Swap(t *Table) { rt.table.Store(t) }

// Table returns the current table.
func (rt *Router) Table() *Table { return rt.table.Load() }

// ServeHTTP implements http.Handler.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	t := rt.table.Load()
	text, https, fwdOK := rt.trusted.Forwarded(r)
	host, port, ok := ParseHost(text)
	if !ok || !fwdOK {
		badHost(w)
		if rt.observer != nil {
			rt.observer.Observe(event.KindNone, event.OutcomeError, http.StatusBadRequest, time.Since(start))
		}
		if rec, ok := w.(Recorder); ok {
			rec.RecordResult("", event.KindNone, event.OutcomeError)
		}
		return
	}
	d := t.Domain(host)
	if d != nil && d.httpsOnly || d == nil && t.HTTPSOnly(host) {
		if !https {
			status := rt.toHTTPS(w, r, host)
			if rt.observer != nil {
				rt.observer.Observe(event.KindNone, event.OutcomeRedirect, status, time.Since(start))
			}
			return
		}
		w.Header()["Strict-Transport-Security"] = hsts
	}
	req := gateway.NewRequest(r, host)
	req.Port, req.HTTPS = port, https

	var res gateway.Result
	ok = false
	if d == nil {
		if d = rt.fallbackDomain(t); d != nil {
			req.Domain = d.Name
		}
	}
	if d != nil {
		res, ok = d.Serve(w, req)
	}
	if !ok {
		switch {
		case rt.extra != nil && rt.extra.Handles(r.URL.Path):
			sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
			rt.extra.ServeHTTP(sw, r)
			res = gateway.Result{Status: sw.status, Outcome: event.OutcomeServe, Uncounted: true}
			switch sw.status {
			case http.StatusNotModified:
				res.Outcome = event.OutcomeNotModified
			case http.StatusNotFound:
				res.Outcome = event.OutcomeNotFound
			}
		case d == nil:
			rt.unknownHost(w, req)
			res = gateway.Result{Status: http.StatusNotFound, Outcome: event.OutcomeNotFound, Uncounted: true}
		default:
			gateway.NotFound(w, req.RawPath)
			res = gateway.Result{Status: http.StatusNotFound, Outcome: event.OutcomeNotFound, Uncounted: true}
		}
	}
	if rt.observer != nil {
		rt.observer.Observe(res.Event.Kind, res.Outcome, res.Status, time.Since(start))
	}
	if rec, ok := w.(Recorder); ok {
		rec.RecordResult(req.Host, res.Event.Kind, res.Outcome)
	}
	if res.Collected.Collection != "" && rt.collector != nil {
		// The package is created for a download only, whether or not
		// the client lets it be counted: creating it records nothing
		// about the client.
		res.Event.Method, res.Event.Status = r.Method, res.Status
		if res.Event.Download() {
			rt.collector.Collect(res.Collected)
		}
	}
	if !res.Uncounted && rt.emitter != nil && !optedOut(r) {
		rt.emit(req, &res, start)
	}
	req.Free()
}

// Plain reports whether r, a GET or HEAD without a body, is answered by
// a domain whose rules all redirect: with a redirect or a short
// not-found, never a proxied stream, a flush or a wait on the client.
// The gateway listener answers such requests on its lean loop
// (server.ServeLean). In any doubt it reports false.
func (rt *Router) Plain(r *http.Request) bool {
	t := rt.table.Load()
	text, _, fwdOK := rt.trusted.Forwarded(r)
	host, _, ok := ParseHost(text)
	if !ok || !fwdOK {
		return false
	}
	d := t.Domain(host)
	if d == nil {
		d = rt.fallbackDomain(t)
	}
	if d == nil || !d.plain {
		return false
	}
	return rt.extra == nil || !rt.extra.Handles(r.URL.Path)
}

// unknownHost answers a request for a host that no domain names and no
// default domain serves, saying so to clients that show messages.
func (rt *Router) unknownHost(w http.ResponseWriter, req *gateway.Request) {
	if rt.log != nil {
		rt.log.Debug("no domain matches the request's host", "host", req.Host, "path", req.RawPath)
	}
	gateway.UnknownHost(w, req)
}

// toHTTPS redirects a plain HTTP request to the same URL over HTTPS, and
// returns the status: 301 for GET and HEAD, which every client follows,
// and 308 for other methods, which keeps the method and the body. The
// request is not served, and not counted: its HTTPS twin will be.
func (rt *Router) toHTTPS(w http.ResponseWriter, r *http.Request, host string) int {
	status := http.StatusPermanentRedirect
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		status = http.StatusMovedPermanently
	}
	h := w.Header()
	if strings.IndexByte(host, ':') >= 0 {
		host = "[" + host + "]" // an IPv6 address
	}
	h["Location"] = []string{"https://" + host + rt.httpsPort + r.URL.RequestURI()}
	h["Content-Length"] = zeroLength
	w.WriteHeader(status)
	return status
}

var zeroLength = []string{"0"}

// hsts tells browsers to ask an HTTPS-only domain over HTTPS only, for a
// year: the domain and not its subdomains, which may be other domains'.
var hsts = []string{"max-age=31536000"}

const badHostBody = "400 Bad Request: the Host header, or a trusted proxy's X-Forwarded-Host or X-Forwarded-Proto, is not a valid host[:port] or protocol\n"

var (
	textContentType = []string{"text/plain; charset=utf-8"}
	noSniff         = []string{"nosniff"}
	badHostLen      = []string{strconv.Itoa(len(badHostBody))}
)

// badHost refuses a request whose host cannot be parsed: it names no
// domain, and nothing in it may reach a URL the gateway writes.
func badHost(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = textContentType
	h["X-Content-Type-Options"] = noSniff
	h["Content-Length"] = badHostLen
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write([]byte(badHostBody))
}

// emit sends the events of a counted request: one per payload, or one.
func (rt *Router) emit(req *gateway.Request, res *gateway.Result, start time.Time) {
	e := &res.Event
	r := req.HTTP
	e.Time = start
	e.Domain = req.Domain
	if req.Host != req.Domain {
		e.RequestedHost = req.Host
	}
	e.Method = r.Method
	e.Path = req.RawPath
	e.Status = res.Status
	e.Outcome = res.Outcome
	if ua := r.Header["User-Agent"]; len(ua) > 0 {
		e.UserAgent = ua[0]
	}
	e.ClientAddr = rt.trusted.Client(r)
	if len(res.Payloads) == 0 {
		rt.emitter.Emit(*e)
		return
	}
	for _, p := range res.Payloads {
		if e.Kind == event.KindFile {
			e.Body = p
		} else {
			e.Payload = p
		}
		rt.emitter.Emit(*e)
	}
}

// optedOut reports whether the client asked not to be tracked, with
// Do-Not-Track or Global Privacy Control. Such requests are served like
// any other and never recorded. Any "1" counts, on any header line and in
// any comma-separated list: a client (or a proxy adding its own line) that
// says so once has said so.
func optedOut(r *http.Request) bool {
	return anyIs1(r.Header["Dnt"]) || anyIs1(r.Header["Sec-Gpc"])
}

func anyIs1(lines []string) bool {
	for _, v := range lines {
		for v != "" {
			var elem string
			elem, v, _ = strings.Cut(v, ",")
			if strings.TrimSpace(elem) == "1" {
				return true
			}
		}
	}
	return false
}

// statusWriter notes the status an Extra answers with, for the metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

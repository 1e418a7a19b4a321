package route

import (
	"net/http"
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

// Router serves every request from the current Table.
type Router struct {
	table    atomic.Pointer[Table]
	trusted  *clientip.Trusted
	emitter  Emitter
	observer Observer
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
	host := HostKey(rt.trusted.Host(r))
	req := gateway.NewRequest(r, host)

	var res gateway.Result
	ok := false
	if d := t.Domain(host); d != nil {
		res, ok = d.Serve(w, req)
	}
	if !ok {
		gateway.NotFound(w, req.RawPath)
		res = gateway.Result{Status: http.StatusNotFound, Outcome: event.OutcomeNotFound, Uncounted: true}
	}
	if rt.observer != nil {
		rt.observer.Observe(res.Event.Kind, res.Outcome, res.Status, time.Since(start))
	}
	if !res.Uncounted && rt.emitter != nil && !optedOut(r) {
		rt.emit(req, &res, start)
	}
	req.Free()
}

// emit sends the events of a counted request: one per payload, or one.
func (rt *Router) emit(req *gateway.Request, res *gateway.Result, start time.Time) {
	e := &res.Event
	r := req.HTTP
	e.Time = start
	e.Domain = req.Domain
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
// any other and never recorded.
func optedOut(r *http.Request) bool {
	return headerIs1(r.Header["Dnt"]) || headerIs1(r.Header["Sec-Gpc"])
}

func headerIs1(v []string) bool {
	return len(v) > 0 && len(v[0]) > 0 && v[0][0] == '1'
}

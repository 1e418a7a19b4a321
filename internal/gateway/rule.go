package gateway

import (
	"net/http"

	"portico/internal/event"
)

// A Rule serves the requests it takes. Rules are built when a routing
// table is compiled and are shared by concurrent requests, so they must
// not change after construction.
type Rule interface {
	// Serve either declines the request (ok false, nothing written to w),
	// so that the next rule is tried, or answers it and reports what it
	// did.
	Serve(w http.ResponseWriter, req *Request) (res Result, ok bool)
}

// Result is what a rule did with a request, for metrics and events.
type Result struct {
	Status  int
	Outcome event.Outcome
	// Event carries the rule's part of the analytics event: kind,
	// package, rule id and the kind-specific fields. The router adds the
	// request's part (time, domain, method, path, status, client).
	Event event.Event
	// Payloads, when set, are JSON values from the request body; the
	// request then produces one event per payload, each with the payload
	// in Event.Body (file rules) or Event.Payload (telemetry, scarf-js).
	Payloads [][]byte
	// Uncounted requests produce no event (a refused telemetry post, say);
	// they still count in metrics.
	Uncounted bool
	// Collected is set by rules compiled from collections: when the
	// request was a download (event.Event.Download), the router asks for
	// the artifact's package to be created.
	Collected Collected
}

// Redirect answers with 307 Temporary Redirect to location, with no body.
// Clients of every protocol Portico serves follow 307 and, unlike with 302,
// keep the method and body.
func Redirect(w http.ResponseWriter, location string) {
	w.Header()["Location"] = []string{location}
	w.WriteHeader(http.StatusTemporaryRedirect)
}

// RedirectShared is Redirect with a header value built once at load time.
// The slice is never modified, so it is shared by all responses.
func RedirectShared(w http.ResponseWriter, location []string) {
	w.Header()["Location"] = location
	w.WriteHeader(http.StatusTemporaryRedirect)
}

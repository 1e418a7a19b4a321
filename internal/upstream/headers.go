package upstream

import (
	"net/http"
	"net/textproto"
)

// ConditionalHeaders make a download conditional or partial. They carry
// nothing about the client, and caches and resumed downloads need them.
var ConditionalHeaders = []string{"Range", "If-Range", "If-None-Match", "If-Modified-Since"}

// CopyHeaders copies the headers named in each list from src to dst.
// Protocols forward client headers with it, from an allowlist: whatever
// is not on the list stays behind.
func CopyHeaders(dst, src http.Header, lists ...[]string) {
	for _, names := range lists {
		for _, k := range names {
			if v := src[k]; len(v) > 0 {
				dst[k] = v
			}
		}
	}
}

// headerRule says where a request header may go.
type headerRule uint8

const (
	// anywhere: content negotiation and the client's software, which
	// every server may learn.
	anywhere headerRule = iota + 1
	// fetches: conditional and partial requests, for the backend and
	// the hosts the rule names; storage gets none of the client's.
	fetches
	// backendOnly: uploads' description and npm's one-time passwords,
	// for the backend alone.
	backendOnly
	// credential: Authorization, for the backend and, with the rule's
	// own credentials, its token service.
	credential
)

// forwardable are the only request headers the transport sends, whatever
// a protocol sets. Each protocol picks the client's headers it needs
// from a narrower list of its own (CopyHeaders); this one holds for all
// of them, in one place, so that nothing else ever leaves: not the
// client's address in any of the headers proxies put it in, not
// cookies, not X-Registry-Auth and the like, which are for Portico or
// the client's own daemon, and not a header a protocol copies by
// mistake. The HTTP client adds Host, Content-Length and, for its own
// decompression, Accept-Encoding; those are not in the header map.
var forwardable = map[string]headerRule{
	"Accept":            anywhere,
	"Accept-Encoding":   anywhere,
	"User-Agent":        anywhere,
	"Range":             fetches,
	"If-Range":          fetches,
	"If-None-Match":     fetches,
	"If-Modified-Since": fetches,
	"Content-Type":      backendOnly,
	"Content-Range":     backendOnly,
	"Npm-Otp":           backendOnly,
	"Npm-Auth-Type":     backendOnly,
	"Npm-Command":       backendOnly,
	"Authorization":     credential,
}

// allowed reports whether header k may go to a destination of kind d.
func allowed(k string, d Dest) bool {
	switch forwardable[textproto.CanonicalMIMEHeaderKey(k)] {
	case anywhere:
		return true
	case fetches:
		return d == DestBackend || d == DestNamed
	case backendOnly:
		return d == DestBackend
	case credential:
		return d == DestBackend || d == DestRealm
	}
	return false
}

// scrub returns req, or a shallow copy of it with the headers removed
// that may not go to d. A RoundTripper must not change the request it is
// given, so the header map is copied only when something goes.
func scrub(req *http.Request, d Dest) *http.Request {
	clean := true
	for k := range req.Header {
		if !allowed(k, d) {
			clean = false
			break
		}
	}
	if clean {
		return req
	}
	r := new(http.Request)
	*r = *req
	r.Header = make(http.Header, len(req.Header))
	for k, v := range req.Header {
		if allowed(k, d) {
			r.Header[k] = v
		}
	}
	return r
}

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

// headerRule is what the transport does with a request header.
type headerRule uint8

const (
	keep headerRule = iota
	// clientAddress: a header that carries (or may carry) the client's
	// address. Portico never discloses it, not even to the backend.
	clientAddress
	// gatewayOnly: meant for Portico or the client's own daemon, never
	// for any backend.
	gatewayOnly
	// credential: credentials, for the rule's backend only (and, for
	// Authorization, the token service the rule authenticates to).
	credential
)

// classifyHeader sorts a canonical header name.
func classifyHeader(k string) headerRule {
	switch k {
	case "X-Forwarded-For", "Forwarded", "X-Forwarded", "Forwarded-For",
		"X-Real-Ip", "True-Client-Ip", "Cf-Connecting-Ip", "Cf-Connecting-Ipv6",
		"X-Client-Ip", "Client-Ip", "X-Cluster-Client-Ip", "Fastly-Client-Ip",
		"X-Originating-Ip", "X-Remote-Ip", "X-Remote-Addr", "X-Proxyuser-Ip",
		"X-Envoy-External-Address", "X-Appengine-User-Ip", "Cloudfront-Viewer-Address",
		"X-Azure-Clientip", "X-Azure-Socketip", "X-Forwarded-Host":
		return clientAddress
	case "X-Registry-Auth", "X-Registry-Config", "Proxy-Authorization":
		return gatewayOnly
	case "Authorization", "Cookie", "Npm-Otp", "X-Auth-Token", "X-Api-Key",
		"Private-Token", "Job-Token", "Deploy-Token":
		return credential
	}
	return keep
}

// storageHeaders are the only headers a request to storage (a redirect
// target no rule names) may carry: none of them comes from the client.
var storageHeaders = map[string]bool{"User-Agent": true, "Accept": true, "Accept-Encoding": true}

// allowed reports whether header k may go to a destination of kind d.
func allowed(k string, d Dest) bool {
	k = textproto.CanonicalMIMEHeaderKey(k)
	if d == DestStorage {
		return storageHeaders[k]
	}
	switch classifyHeader(k) {
	case clientAddress, gatewayOnly:
		return false
	case credential:
		return d == DestBackend || d == DestRealm && k == "Authorization"
	}
	return true
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

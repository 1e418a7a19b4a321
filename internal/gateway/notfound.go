package gateway

import (
	"net/http"
	"strconv"
	"strings"
)

// registryNameUnknown is the registry API's error body for an image no rule
// serves, byte for byte what Scarf Gateway sends.
const registryNameUnknown = `{"errors":[{"code":"NAME_UNKNOWN","detail":{},"message":"repository name not known to registry"}]}`

var (
	jsonContentType        = []string{"application/json"}
	registryNameUnknownLen = []string{strconv.Itoa(len(registryNameUnknown))}
)

// NotFound answers a request that no rule took. Requests for the registry
// API (/v2...) get the registry's NAME_UNKNOWN error so that container
// clients print a meaningful message; /v2/_catalog, which Portico never
// serves, and everything else get an empty 404.
func NotFound(w http.ResponseWriter, rawPath string) {
	if isRegistryPath(rawPath) && !isCatalog(rawPath) {
		h := w.Header()
		h["Content-Type"] = jsonContentType
		h["Content-Length"] = registryNameUnknownLen
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(registryNameUnknown))
		return
	}
	w.WriteHeader(http.StatusNotFound)
}

// isRegistryPath reports whether the first decoded segment is "v2".
func isRegistryPath(rawPath string) bool {
	seg, plain := FirstSegment(rawPath)
	if !plain {
		seg = DecodeSegment(seg)
	}
	return seg == "v2"
}

// isCatalog reports whether the decoded segments start with v2, _catalog.
func isCatalog(rawPath string) bool {
	p := strings.TrimPrefix(rawPath, "/")
	first, rest, ok := strings.Cut(p, "/")
	if !ok || DecodeSegment(first) != "v2" {
		return false
	}
	second, _, _ := strings.Cut(rest, "/")
	return DecodeSegment(second) == "_catalog"
}

// UnknownHost answers a request whose host names no domain of the
// gateway (and that no default domain serves) with 404, saying which host
// was asked for to the clients that show a message: registry clients on
// /v2 paths get NAME_UNKNOWN with it, clients that accept JSON an
// {"error": …} object. Others, and /v2/_catalog, get the empty 404 of any
// path no rule takes. The host is the parsed one, never header text.
func UnknownHost(w http.ResponseWriter, req *Request) {
	msg := "no domain of this gateway matches the host " + strconv.Quote(req.Host) + " the request was sent to"
	var body string
	switch {
	case isRegistryPath(req.RawPath) && !isCatalog(req.RawPath):
		body = `{"errors":[{"code":"NAME_UNKNOWN","detail":{},"message":` + strconv.Quote(msg) + `}]}`
	case acceptsJSON(req.HTTP.Header["Accept"]):
		body = `{"error":` + strconv.Quote(msg) + `}`
	default:
		w.WriteHeader(http.StatusNotFound)
		return
	}
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write([]byte(body))
}

// acceptsJSON reports whether an Accept header names a JSON media type
// (application/json, or one with a +json suffix or a json subtype, as npm
// and PEP 691 clients send).
func acceptsJSON(accept []string) bool {
	for _, v := range accept {
		if strings.Contains(strings.ToLower(v), "json") {
			return true
		}
	}
	return false
}

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

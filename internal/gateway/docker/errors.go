package docker

import (
	"net/http"
	"strconv"
	"strings"
)

// OCI distribution error codes used by Portico.
const (
	codeNameUnknown  = "NAME_UNKNOWN"
	codeUnsupported  = "UNSUPPORTED"
	codeUnauthorized = "UNAUTHORIZED"
	codeDenied       = "DENIED"
	codeUnavailable  = "UNAVAILABLE"
)

// writeError answers with an OCI error body:
// {"errors":[{"code":"…","message":"…","detail":{}}]}. The message is
// Portico's own text, never anything taken from the request.
func writeError(w http.ResponseWriter, status int, code, message string) int {
	var b strings.Builder
	b.WriteString(`{"errors":[{"code":"`)
	b.WriteString(code)
	b.WriteString(`","message":`)
	b.WriteString(strconv.Quote(message))
	b.WriteString(`,"detail":{}}]}`)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	h.Set("Docker-Distribution-Api-Version", "registry/2.0")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
	return status
}

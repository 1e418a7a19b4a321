package gateway

import (
	"net/http"
	"strconv"

	"portico/internal/event"
	"portico/internal/query"
)

var (
	tooManyParamsBody = "portico: the query has more than " + strconv.Itoa(query.MaxItems) + " parameters\n"
	tooManyParamsLen  = []string{strconv.Itoa(len(tooManyParamsBody))}
	textContentType   = []string{"text/plain; charset=utf-8"}
)

// TooManyParams answers a request whose query holds more than
// query.MaxItems parameters: 414 URI Too Long, before any rule reads the
// query. Such a request is not a download and is not counted.
func TooManyParams(w http.ResponseWriter, req *Request) Result {
	h := w.Header()
	h["Content-Type"] = textContentType
	h["Content-Length"] = tooManyParamsLen
	w.WriteHeader(http.StatusRequestURITooLong)
	if req.Method() != http.MethodHead {
		_, _ = w.Write([]byte(tooManyParamsBody))
	}
	return Result{Status: http.StatusRequestURITooLong, Outcome: event.OutcomeError, Uncounted: true}
}

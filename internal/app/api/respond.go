package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"portico/internal/control"
)

// maxBody bounds a request body. Rules are the largest thing a client
// sends, and a manifest rule is a few kilobytes at most.
const maxBody = 1 << 20

// errorBody is the JSON of every error answer.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// statusOf maps a control error kind to its status.
func statusOf(k control.Kind) int {
	switch k {
	case control.KindInvalid:
		return http.StatusBadRequest
	case control.KindUnauthenticated:
		return http.StatusUnauthorized
	case control.KindForbidden:
		return http.StatusForbidden
	case control.KindNotFound:
		return http.StatusNotFound
	case control.KindConflict:
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only values of this package are written: a failure is a bug.
		panic(fmt.Sprintf("api: encoding a response: %v", err))
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// apiError is an error answer with its status.
type apiError struct {
	status int
	detail errorDetail
}

func (e *apiError) Error() string { return e.detail.Message }

// newError returns an error answer.
func newError(status int, code, field, format string, args ...any) *apiError {
	return &apiError{status: status, detail: errorDetail{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}}
}

func badRequest(field, format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, "invalid", field, format, args...)
}

// writeError answers with err: a client error as it is, anything else
// as a 500 whose detail goes to the log only.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if ae, ok := errors.AsType[*apiError](err); ok {
		writeJSON(w, ae.status, errorBody{ae.detail})
		return
	}
	if ce, ok := errors.AsType[*control.Error](err); ok && ce.Kind != 0 {
		writeJSON(w, statusOf(ce.Kind), errorBody{errorDetail{Code: ce.Kind.Code(), Message: ce.Message, Field: ce.Field}})
		return
	}
	if r.Context().Err() != nil {
		return // the client went away
	}
	a.log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeJSON(w, http.StatusInternalServerError, errorBody{errorDetail{Code: "internal", Message: "the server failed to answer: the error is logged"}})
}

// Describe returns what the API shows a client of err: its status, the
// request field at fault ("rule.incoming-path", or "") and the message.
// ok is false for internal errors, whose detail is for the log only.
func Describe(err error) (status int, field, message string, ok bool) {
	if ae, isAPI := errors.AsType[*apiError](err); isAPI {
		return ae.status, ae.detail.Field, ae.detail.Message, true
	}
	if ce, isControl := errors.AsType[*control.Error](err); isControl && ce.Kind != 0 {
		return statusOf(ce.Kind), ce.Field, ce.Message, true
	}
	return http.StatusInternalServerError, "", "the server failed to answer: the error is logged", false
}

// decode reads a JSON object from r's body into v, strictly: unknown
// fields, wrong types, trailing data and oversized bodies are errors
// naming the field.
func decode(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return newError(http.StatusUnsupportedMediaType, "invalid", "", "send the body as application/json, not %s", ct)
	}
	body := http.MaxBytesReader(nil, r.Body, maxBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return decodeError(err)
		}
		return badRequest("", "the body holds more than one JSON value")
	}
	return nil
}

// decodeError describes a decoding failure in the request's terms.
func decodeError(err error) error {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
		tooBig *http.MaxBytesError
	)
	switch {
	case errors.Is(err, io.EOF):
		return badRequest("", "the body is empty: send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("", "the body ends in the middle of a JSON value")
	case errors.As(err, &syntax):
		return badRequest("", "the body is not valid JSON at byte %d: %v", syntax.Offset, syntax)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return badRequest("", "the body must be a JSON object, not %s", typ.Value)
		}
		return badRequest(typ.Field, "must be %s, not %s", jsonType(typ.Type.Kind().String()), typ.Value)
	case errors.As(err, &tooBig):
		return newError(http.StatusRequestEntityTooLarge, "invalid", "", "the body is larger than %d bytes", tooBig.Limit)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name, _ = strconv.Unquote(name)
		return badRequest(name, "unknown field")
	}
	if _, ok := errors.AsType[*control.Error](err); ok {
		return err
	}
	return badRequest("", "%v", err)
}

// jsonType names a Go kind the way a JSON client thinks of it.
func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "a number"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	}
	return "another type"
}

// pageOf reads the limit and cursor query parameters.
func pageOf(r *http.Request) (control.Page, error) {
	q := r.URL.Query()
	p := control.Page{Limit: control.DefaultLimit}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > control.MaxLimit {
			return p, badRequest("limit", "must be a number from 1 to %d", control.MaxLimit)
		}
		p.Limit = n
	}
	if s := q.Get("cursor"); s != "" {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) == 0 || len(b) > 300 {
			return p, badRequest("cursor", "is not a cursor this API returned")
		}
		p.After = string(b)
	}
	return p, nil
}

// list is the answer of every list endpoint.
type list[T any] struct {
	Items []T `json:"items"`
	// NextCursor, when set, fetches the next page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// pageAnswer builds a list answer from up to p.Limit+1 items: one more
// than the page means there is a next page, starting after the page's
// last item, whose key is key(item).
func pageAnswer[S any, T any](items []S, p control.Page, key func(S) string, conv func(S) T) list[T] {
	out := list[T]{Items: make([]T, 0, min(len(items), p.Limit))}
	for i, it := range items {
		if i == p.Limit {
			out.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(key(items[i-1])))
			break
		}
		out.Items = append(out.Items, conv(it))
	}
	return out
}

// plusOne asks for one item more than the page, to know whether another
// page follows.
func plusOne(p control.Page) control.Page {
	p.Limit++
	return p
}

// listPage answers a list request: list is asked for one item more than
// the page holds, so that the answer knows whether another page follows.
func listPage[S, T any](w http.ResponseWriter, r *http.Request, list func(control.Page) ([]S, error), key func(S) string, view func(S) T) error {
	pg, err := pageOf(r)
	if err != nil {
		return err
	}
	items, err := list(plusOne(pg))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pageAnswer(items, pg, key, view))
	return nil
}

// reply writes the view of v with status, unless the call that produced
// v failed.
func reply[S, T any](w http.ResponseWriter, status int, v S, err error, view func(S) T) error {
	if err != nil {
		return err
	}
	writeJSON(w, status, view(v))
	return nil
}

// noContent answers 204 to a request whose work is done, unless it failed.
func noContent(w http.ResponseWriter, err error) error {
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

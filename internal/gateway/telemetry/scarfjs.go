package telemetry

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"portico/internal/event"
	"portico/internal/gateway"
	"portico/internal/manifest"
)

// maxScarfJSBody bounds the install event body. scarf-js sends a few
// hundred bytes; the bound keeps a hostile client from making the gateway
// buffer an arbitrary body.
const maxScarfJSBody = 64 << 10

var jsonContentType = []string{"application/json"}

// ScarfJS serves a scarf-js-v1 rule: install events that the scarf-js npm
// package posts to /package-event/install[/PACKAGE].
type ScarfJS struct {
	packageID string
}

// NewScarfJS compiles a scarf-js-v1 rule.
func NewScarfJS(r *manifest.ScarfJS) *ScarfJS { return &ScarfJS{packageID: r.PackageID} }

// Serve implements gateway.Rule. As in Scarf Gateway the body is validated
// before the method, so a request without a JSON body gets 422 whatever
// its method.
func (s *ScarfJS) Serve(w http.ResponseWriter, req *gateway.Request) (gateway.Result, bool) {
	segs := req.Segments()
	if len(segs) < 2 || segs[0] != "package-event" || segs[1] != "install" {
		return gateway.Result{}, false
	}
	ev := event.Event{Kind: event.KindScarfJS, PackageID: s.packageID}
	var body []byte
	err := req.ReadBody(w, func(r io.ReadCloser) error {
		var err error
		body, err = io.ReadAll(http.MaxBytesReader(w, r, maxScarfJSBody))
		return err
	})
	if err != nil {
		if errors.Is(err, gateway.ErrBodyTimeout) {
			return gateway.Result{Status: gateway.RequestTimeout(w), Outcome: event.OutcomeError, Event: ev, Uncounted: true}, true
		}
		status := http.StatusBadRequest
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			status = http.StatusRequestEntityTooLarge
		}
		w.WriteHeader(status)
		return gateway.Result{Status: status, Outcome: event.OutcomeError, Event: ev, Uncounted: true}, true
	}
	var compact bytes.Buffer
	if !json.Valid(body) || json.Compact(&compact, body) != nil {
		w.WriteHeader(http.StatusUnprocessableEntity)
		return gateway.Result{Status: http.StatusUnprocessableEntity, Outcome: event.OutcomeError, Event: ev, Uncounted: true}, true
	}
	if req.Method() != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return gateway.Result{Status: http.StatusMethodNotAllowed, Outcome: event.OutcomeError, Event: ev, Uncounted: true}, true
	}
	if len(segs) > 2 {
		ev.Subject = segs[2]
	}
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(http.StatusOK)
	return gateway.Result{Status: http.StatusOK, Outcome: event.OutcomeServe, Event: ev, Payloads: [][]byte{compact.Bytes()}}, true
}

package file

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"portico/internal/event"
	"portico/internal/gateway"
)

// The limits Scarf Gateway applies to events sent in a request body.
const (
	maxBodyBytes  = 256
	maxBodyEvents = 10
)

// readBodyObjects returns the JSON objects in the first maxBodyBytes of the
// request body, at most maxBodyEvents of them, compacted. Values that are
// not objects are skipped, and parsing stops quietly at the first error,
// which is where a value cut off by the limit ends up. The error is
// gateway.ErrBodyTimeout for a body that does not arrive in time.
func readBodyObjects(w http.ResponseWriter, req *gateway.Request) ([][]byte, error) {
	r := req.HTTP
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil, nil
	}
	var buf [maxBodyBytes]byte
	n, err := req.ReadBodyPrefix(w, buf[:])
	if errors.Is(err, gateway.ErrBodyTimeout) {
		return nil, err
	}
	return ParseObjects(buf[:n], maxBodyEvents), nil
}

// ParseObjects parses a stream of JSON values (concatenated or separated
// by white space, as in NDJSON) and returns up to max objects, compacted.
func ParseObjects(data []byte, max int) [][]byte {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var out [][]byte
	for len(out) < max {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			break
		}
		if len(raw) == 0 || raw[0] != '{' {
			continue
		}
		var c bytes.Buffer
		if json.Compact(&c, raw) != nil {
			break
		}
		out = append(out, c.Bytes())
	}
	return out
}

// bodyTimedOut answers a request whose body did not arrive in time. It is
// no download: nothing was redirected or served.
func bodyTimedOut(w http.ResponseWriter, res gateway.Result) gateway.Result {
	res.Status, res.Outcome, res.Uncounted = gateway.RequestTimeout(w), event.OutcomeError, true
	res.Payloads = nil
	return res
}

package telemetry

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strings"

	"portico/internal/event"
	"portico/internal/gateway"
	"portico/internal/gateway/file"
	"portico/internal/manifest"
)

// The limits Scarf Gateway applies to posted telemetry.
const (
	maxBodyBytes  = 256
	maxBodyEvents = 10
)

// Telemetry serves a telemetry-v1 rule: POSTs to one path, each JSON
// object in the body recorded as an event.
type Telemetry struct {
	packageID string
	segments  []string
	open      bool       // no access-tokens: anyone may post
	hashes    [][32]byte // SHA-256 of every accepted token
}

// NewTelemetry compiles a telemetry-v1 rule.
func NewTelemetry(r *manifest.Telemetry) *Telemetry {
	p, _, _ := strings.Cut(r.IncomingPath, "?")
	t := &Telemetry{
		packageID: r.PackageID,
		segments:  gateway.AppendSegments(nil, p),
		open:      r.AccessTokens == nil,
	}
	for _, tok := range r.AccessTokens {
		t.hashes = append(t.hashes, tokenHash(tok))
	}
	return t
}

// FirstSegment returns the decoded first segment of the rule's path, for
// indexing.
func (t *Telemetry) FirstSegment() (string, bool) {
	if len(t.segments) == 0 {
		return "", true
	}
	return t.segments[0], true
}

// tokenHash returns the digest a manifest token stands for: the hex digest
// of a "sha256:" token, or the digest of a plain one.
func tokenHash(tok string) [32]byte {
	var h [32]byte
	if hexDigest, ok := strings.CutPrefix(tok, "sha256:"); ok {
		if b, err := hex.DecodeString(hexDigest); err == nil && len(b) == 32 {
			copy(h[:], b)
			return h
		}
	}
	return sha256.Sum256([]byte(tok))
}

// Serve implements gateway.Rule.
func (t *Telemetry) Serve(w http.ResponseWriter, req *gateway.Request) (gateway.Result, bool) {
	if req.Method() != http.MethodPost || !slices.Equal(req.Segments(), t.segments) {
		return gateway.Result{}, false
	}
	if !t.authorized(req.HTTP) {
		w.WriteHeader(http.StatusUnauthorized)
		return gateway.Result{Status: http.StatusUnauthorized, Outcome: event.OutcomeError,
			Event: event.Event{Kind: event.KindTelemetry, PackageID: t.packageID}, Uncounted: true}, true
	}
	var buf [maxBodyBytes]byte
	n, err := req.ReadBodyPrefix(w, buf[:])
	if errors.Is(err, gateway.ErrBodyTimeout) {
		return gateway.Result{Status: gateway.RequestTimeout(w), Outcome: event.OutcomeError,
			Event: event.Event{Kind: event.KindTelemetry, PackageID: t.packageID}, Uncounted: true}, true
	}
	objs := file.ParseObjects(buf[:n], maxBodyEvents)
	w.WriteHeader(http.StatusOK)
	return gateway.Result{
		Status:    http.StatusOK,
		Outcome:   event.OutcomeServe,
		Event:     event.Event{Kind: event.KindTelemetry, PackageID: t.packageID},
		Payloads:  objs,
		Uncounted: len(objs) == 0,
	}, true
}

// authorized checks the bearer token. Tokens are compared as SHA-256
// digests in constant time, against every accepted token, so neither the
// comparison nor the position of a match leaks through timing.
func (t *Telemetry) authorized(r *http.Request) bool {
	if t.open {
		return true
	}
	auth := r.Header["Authorization"]
	if len(auth) == 0 {
		return false
	}
	tok, ok := strings.CutPrefix(auth[0], "Bearer ")
	if !ok {
		return false
	}
	sum := sha256.Sum256([]byte(strings.Trim(tok, " \t\r\n\f\v")))
	match := 0
	for i := range t.hashes {
		match |= subtle.ConstantTimeCompare(sum[:], t.hashes[i][:])
	}
	return match == 1
}

package upstream

import (
	"context"
	"fmt"
	"net/url"
	"slices"
)

// A Policy says where the requests Portico makes on behalf of one rule
// may go: the rule's backend origin, origins the rule names, the
// backend's token service, and, for following a redirect to blob or
// tarball storage, any https host. Every request through a Transport
// must carry one (WithPolicy). A Policy is immutable.
type Policy struct {
	backend Origin
	// fallback is the rule's fallback backend, zero when it has none:
	// a backend as much as the first one.
	fallback Origin
	named    []Origin
	realm    Origin // zero unless set by WithRealm
	storage  bool
}

// Dest is the kind of destination a request has under a policy. It
// decides which addresses may be dialed and which headers may go along.
type Dest uint8

const (
	// DestBackend is the rule's backend origin: it may be on any
	// address (the operator named it), and it receives the headers the
	// protocol forwards, credentials included.
	DestBackend Dest = iota + 1
	// DestRealm is the backend's token service: public addresses only,
	// and it may receive the rule's own credentials.
	DestRealm
	// DestNamed is an origin the rule names besides its backend (npm
	// tarball-hosts): public addresses only, no credentials.
	DestNamed
	// DestStorage is an https host a blob or tarball redirect led to:
	// public addresses only, no credentials and no client headers.
	DestStorage
)

// NewPolicy returns the policy of a rule whose backend is at backendURL
// ("https://ghcr.io", "http://127.0.0.1:4873/registry/": the path does
// not matter) and that names further origins (absolute URLs or
// scheme://host[:port]).
func NewPolicy(backendURL string, named ...string) (*Policy, error) {
	b, err := ParseOrigin(backendURL)
	if err != nil {
		return nil, fmt.Errorf("backend: %w", err)
	}
	p := &Policy{backend: b}
	for _, n := range named {
		o, err := ParseOrigin(n)
		if err != nil {
			return nil, fmt.Errorf("origin %q: %w", n, err)
		}
		if o != b && !slices.Contains(p.named, o) {
			p.named = append(p.named, o)
		}
	}
	return p, nil
}

// Backend returns the rule's backend origin.
func (p *Policy) Backend() Origin { return p.backend }

// WithFallback returns a copy of p that also allows the rule's fallback
// backend at fallbackURL, as a backend: on any address, with the
// headers a backend gets. Its requests are measured as its own.
func (p *Policy) WithFallback(fallbackURL string) (*Policy, error) {
	o, err := ParseOrigin(fallbackURL)
	if err != nil {
		return nil, fmt.Errorf("fallback: %w", err)
	}
	q := *p
	q.fallback = o
	q.named = slices.DeleteFunc(slices.Clone(p.named), func(n Origin) bool { return n == o })
	return &q, nil
}

// isFallback reports whether o is the rule's fallback backend.
func (p *Policy) isFallback(o Origin) bool {
	return p.fallback.Scheme != "" && o == p.fallback
}

// WithRealm returns a copy of p that also allows the token service at
// realm (an absolute URL the registry gave in its challenge).
func (p *Policy) WithRealm(realm *url.URL) (*Policy, error) {
	o, err := OriginOf(realm)
	if err != nil {
		return nil, &RefusedError{Target: quoteTarget(realm.Redacted()), Reason: "token service: " + err.Error()}
	}
	q := *p
	q.realm = o
	return &q, nil
}

// ForStorage returns a copy of p that also allows any https origin, for
// following a blob or tarball redirect to the storage that serves the
// bytes. The dialer still refuses non-public addresses there.
func (p *Policy) ForStorage() *Policy {
	q := *p
	q.storage = true
	return &q
}

// Check says whether a request to u is allowed, and as what kind of
// destination. A refusal is a *RefusedError naming u's origin.
func (p *Policy) Check(u *url.URL) (Dest, error) {
	o, err := OriginOf(u)
	if err != nil {
		target := u.Host
		if target == "" || u.User != nil {
			target = u.Redacted()
		}
		return 0, &RefusedError{Target: quoteTarget(target), Reason: err.Error()}
	}
	return p.CheckOrigin(o)
}

// CheckOrigin is Check for an origin.
func (p *Policy) CheckOrigin(o Origin) (Dest, error) {
	switch {
	case o == p.backend, p.isFallback(o):
		return DestBackend, nil
	case p.realm.Scheme != "" && o == p.realm:
		return DestRealm, nil
	case slices.Contains(p.named, o):
		return DestNamed, nil
	case p.storage && o.Scheme == "https":
		return DestStorage, nil
	}
	reason := "not the rule's backend (" + p.backend.String() + ")"
	if p.storage {
		reason += " and not https"
	}
	return 0, &RefusedError{Target: o.String(), Reason: reason}
}

// IsBackend reports whether u is on the rule's backend origin.
func (p *Policy) IsBackend(u *url.URL) bool {
	o, err := OriginOf(u)
	return err == nil && (o == p.backend || p.isFallback(o))
}

// Allows reports whether u is on the backend origin or an origin the rule
// names; a storage policy's any-https allowance does not count.
func (p *Policy) Allows(u *url.URL) bool {
	o, err := OriginOf(u)
	return err == nil && (o == p.backend || p.isFallback(o) || slices.Contains(p.named, o))
}

type policyKey struct{}

// WithPolicy returns a context whose requests follow p.
func WithPolicy(ctx context.Context, p *Policy) context.Context {
	return context.WithValue(ctx, policyKey{}, p)
}

// PolicyFrom returns the policy of ctx, or nil.
func PolicyFrom(ctx context.Context) *Policy {
	p, _ := ctx.Value(policyKey{}).(*Policy)
	return p
}

// WithBackend returns a context whose requests may go to rawURL's origin
// only, for callers that fetch a rule's backend and nothing else (index
// pages and packuments).
func WithBackend(ctx context.Context, rawURL string) (context.Context, error) {
	p, err := NewPolicy(rawURL)
	if err != nil {
		return ctx, err
	}
	return WithPolicy(ctx, p), nil
}

// RefusedError is a request the outbound policy did not let through.
type RefusedError struct {
	// Target names where the request would have gone: an origin, a
	// host and port, or the refused URL (credentials redacted).
	Target string
	Reason string
}

func (e *RefusedError) Error() string {
	return "request to " + e.Target + " refused: " + e.Reason
}

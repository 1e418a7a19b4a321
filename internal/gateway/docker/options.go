package docker

import (
	"context"
	"errors"
	"log/slog"

	"portico/internal/upstream"
)

// Options are what docker handlers need at request time. They hold the
// gateway's long-lived state (connection pool, upstream token cache,
// token key), so create them once at startup and pass the same Options to
// every compile: a manifest reload compiles new handlers but keeps them.
//
// Every field is required: New refuses Options that lack one, so that a
// process never falls back to state it did not choose (a second
// connection pool, a token key no other replica shares, warnings nobody
// reads, images nobody decided to make public).
type Options struct {
	// Proxy streams requests to backend registries.
	Proxy *Proxy
	// Signer issues and checks the tokens of Portico's auth handshake.
	Signer *Signer
	// Authorize decides the access a token grants, on domains where
	// Portico runs the auth handshake. AllowPull is the public policy.
	Authorize Authorizer
	// Logger receives warnings about registries and credentials.
	Logger *slog.Logger
	// Health, when set, keeps the health state of the registries of
	// rules with a fallback, which decides where their redirects go and
	// which registry their proxied requests try first. Without it a
	// fallback is only asked after its primary failed a request.
	Health *upstream.Health
}

// Validate reports the first required field of o that is unset.
func (o *Options) Validate() error {
	switch {
	case o.Proxy == nil:
		return errors.New("docker: Options.Proxy is required")
	case o.Signer == nil:
		return errors.New("docker: Options.Signer is required")
	case o.Authorize == nil:
		return errors.New("docker: Options.Authorize is required (docker.AllowPull for public images)")
	case o.Logger == nil:
		return errors.New("docker: Options.Logger is required")
	}
	return nil
}

// A TokenRequest is one repository a client asks a token for, on a
// domain where Portico runs the auth handshake. It names an image that
// one of the domain's rules serves: scopes for other images are left out
// of the token before any Authorizer is asked.
type TokenRequest struct {
	// Domain is the host the client addressed.
	Domain string
	// Repository is the image's public name, as events record it
	// ("library/hello-world" for "hello-world" on Docker Hub).
	Repository string
	// PackageID is the serving docker-v1 rule's package id; RuleID the
	// serving docker-v2 rule's id. One of the two is set, except for a
	// collection's rule, which sets both: RuleID to the collection's id,
	// PackageID to the id of the package it creates for the image.
	PackageID, RuleID string
	// Push is set when the client asked to push and may: the rule
	// allows pushes and the client logged in with its credentials.
	// Pull is always asked, since a push reads the repository too.
	Push bool
}

// Access is what a token grants on one repository. Push without Pull
// grants nothing: a push reads the repository too.
type Access struct {
	Pull, Push bool
}

// An Authorizer decides the access a token grants on req's repository.
// The token holds the intersection of what was asked and what the
// Authorizer returns; a repository it grants nothing on is left out of
// the token, which is still issued, as the distribution token
// specification asks: the registry then answers 401 for that repository.
// An error (the policy could not decide) fails the whole token request
// with 503, so that the client retries rather than concludes it has no
// access.
//
// It is called on every token request, once per repository asked for,
// with the request's context; a token then stays valid for its lifetime
// (DefaultTokenTTL) whatever the policy decides meanwhile.
type Authorizer func(ctx context.Context, req TokenRequest) (Access, error)

// AllowPull is the public policy: pull on every image the domain serves,
// for everyone, and push where Portico's own check (the rule's
// credentials) allows it.
func AllowPull(_ context.Context, req TokenRequest) (Access, error) {
	return Access{Pull: true, Push: req.Push}, nil
}

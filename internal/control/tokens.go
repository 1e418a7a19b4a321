package control

import (
	"context"
	"errors"
	"time"

	"portico/internal/store"
)

// MaxTokenName bounds a token's name.
const MaxTokenName = 100

// NewToken is what a token is created from.
type NewToken struct {
	Name  string
	Scope Scope
	// TTL, when positive, makes the token expire that long after now.
	TTL time.Duration
	// Key, when not empty, makes the creation happen once: the token's
	// id is derived from its user and the key, so that a second request
	// with the same key (a form sent again) is refused with ErrTokenSent
	// instead of making a second token, whichever replica takes it.
	Key string
}

// ErrTokenSent is the error of CreateToken for a key that already
// created a token.
var ErrTokenSent = errors.New("a token was created with this key already")

// MaxTokenKey bounds NewToken.Key.
const MaxTokenKey = 64

// CreateToken creates an API token for the principal's user and returns
// its secret, which is not kept and cannot be shown again. A token acts
// as its user, so it never has more rights than the user; a read token
// cannot make tokens.
func (s *Service) CreateToken(ctx context.Context, p Principal, nt NewToken) (string, Token, error) {
	if err := needWrite(p); err != nil {
		return "", Token{}, err
	}
	if p.User.ID == "" {
		return "", Token{}, Forbidden("tokens belong to users: give one")
	}
	if nt.Scope != ScopeRead && nt.Scope != ScopeWrite {
		return "", Token{}, Invalid("scope", "must be read or write")
	}
	if nt.Name != "" {
		if err := checkChars(nt.Name, MaxTokenName, false); err != nil {
			return "", Token{}, Invalid("name", "%v", err)
		}
	}
	if nt.TTL < 0 {
		return "", Token{}, Invalid("expires", "must be in the future")
	}
	if len(nt.Key) > MaxTokenKey {
		return "", Token{}, Invalid("key", "must be at most %d bytes", MaxTokenKey)
	}
	id := NewID()
	if nt.Key != "" {
		id = keyedID(p.User.ID, nt.Key)
	}
	secret, hash := newSecret(tokenPrefix)
	now := s.now().UTC()
	t := Token{ID: id, UserID: p.User.ID, Name: nt.Name, Scope: nt.Scope, Hash: hash, Created: now}
	if nt.TTL > 0 {
		t.Expires = now.Add(nt.TTL)
	}
	if err := s.update(ctx, func(tx Tx) error { return tx.CreateToken(ctx, t) }); err != nil {
		if nt.Key != "" && errors.Is(err, store.ErrConflict) {
			return "", Token{}, &Error{Kind: KindConflict, Field: "key", Message: "this request was sent already: its token was created then, and its secret shown once", Err: ErrTokenSent}
		}
		return "", Token{}, err
	}
	s.log.Info("token created", "user", p.User.ID, "token", t.ID, "scope", t.Scope.String())
	return secret, t, nil
}

// ListTokens lists the principal's tokens, revoked ones included.
func (s *Service) ListTokens(ctx context.Context, p Principal, pg Page) ([]Token, error) {
	if p.User.ID == "" {
		return nil, nil
	}
	var ts []Token
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		ts, err = tx.ListTokens(ctx, p.User.ID, page(pg))
		return err
	})
	return ts, err
}

// RevokeToken revokes one of the principal's tokens (a server
// administrator may revoke anyone's). A token may revoke itself, even a
// read token: giving up rights is always allowed.
func (s *Service) RevokeToken(ctx context.Context, p Principal, id string) error {
	if p.Scope != ScopeWrite && p.Token != id {
		return Forbidden("a read token can only revoke itself")
	}
	return s.update(ctx, func(tx Tx) error {
		t, err := tx.Token(ctx, id)
		if err != nil {
			return translate(err, "token")
		}
		if t.UserID != p.User.ID && !p.User.ServerAdmin {
			return NotFound("token")
		}
		if !t.Revoked.IsZero() {
			return nil
		}
		return tx.RevokeToken(ctx, id, s.now().UTC())
	})
}

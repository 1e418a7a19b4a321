package control

import (
	"context"
	"time"
)

// MaxTokenName bounds a token's name.
const MaxTokenName = 100

// NewToken is what a token is created from.
type NewToken struct {
	Name  string
	Scope Scope
	// TTL, when positive, makes the token expire that long after now.
	TTL time.Duration
}

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
	secret, hash := newSecret(tokenPrefix)
	now := s.now().UTC()
	t := Token{ID: NewID(), UserID: p.User.ID, Name: nt.Name, Scope: nt.Scope, Hash: hash, Created: now}
	if nt.TTL > 0 {
		t.Expires = now.Add(nt.TTL)
	}
	if err := s.update(ctx, func(tx Tx) error { return tx.CreateToken(ctx, t) }); err != nil {
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

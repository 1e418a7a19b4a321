package control

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"

	"portico/internal/store"
)

// NewUser is what a user is created from.
type NewUser struct {
	Email string
	Name  string
	// Password is "" for a user who signs in with one-time links.
	Password    string
	ServerAdmin bool
}

// CreateUser creates a user with its personal organization, named after
// the user (the local part of the address, made a valid name, with a
// number added if it is taken). Only the operator and server
// administrators create users.
func (s *Service) CreateUser(ctx context.Context, p Principal, nu NewUser) (User, Org, error) {
	if !p.User.ServerAdmin || p.Scope != ScopeWrite {
		return User{}, Org{}, Forbidden("only server administrators create users")
	}
	email, err := NormalizeEmail(nu.Email)
	if err != nil {
		return User{}, Org{}, Invalid("email", "%v", err)
	}
	if err := CheckDisplayName(nu.Name); err != nil {
		return User{}, Org{}, Invalid("name", "%v", err)
	}
	u := User{ID: NewID(), Email: email, Name: nu.Name, ServerAdmin: nu.ServerAdmin, Created: s.now().UTC()}
	if nu.Password != "" {
		if err := CheckPassword(nu.Password); err != nil {
			return User{}, Org{}, Invalid("password", "%v", err)
		}
		u.PasswordHash = HashPassword(nu.Password)
	}
	var org Org
	err = s.update(ctx, func(tx Tx) error {
		if err := tx.CreateUser(ctx, u); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return Conflict("email", "a user with the address %q exists", email)
			}
			return err
		}
		name, err := freeOrgName(ctx, tx, personalOrgName(email))
		if err != nil {
			return err
		}
		org = Org{ID: NewID(), Name: name, PersonalOf: u.ID, Created: u.Created}
		if err := tx.CreateOrg(ctx, org); err != nil {
			return err
		}
		tx.RoutingChanged() // the organization's base domain routes
		return tx.SetOrgRole(ctx, org.ID, u.ID, RoleOwner)
	})
	if err != nil {
		return User{}, Org{}, err
	}
	s.log.Info("user created", "user", u.ID, "org", org.Name, "server_admin", u.ServerAdmin)
	return u, org, nil
}

// personalOrgName makes an organization name of an address's local part:
// lower case, runs of other characters turned into one '-'.
func personalOrgName(email string) string {
	local := strings.ToLower(email[:strings.LastIndexByte(email, '@')])
	var b strings.Builder
	dash := false
	for i := 0; i < len(local) && b.Len() < MaxOrgName-4; i++ {
		c := local[i]
		if 'a' <= c && c <= 'z' || '0' <= c && c <= '9' {
			b.WriteByte(c)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	name := strings.TrimSuffix(b.String(), "-")
	if name == "" || CheckOrgName(name) != nil {
		name = "user-" + name
		name = strings.TrimSuffix(name, "-")
	}
	return name
}

// freeOrgName returns name, or name with the smallest number added that
// no organization has.
func freeOrgName(ctx context.Context, tx Tx, name string) (string, error) {
	for n := 1; ; n++ {
		candidate := name
		if n > 1 {
			candidate = name + "-" + strconv.Itoa(n)
		}
		_, err := tx.OrgByName(ctx, candidate)
		if errors.Is(err, store.ErrNotFound) {
			return candidate, nil
		}
		if err != nil {
			return "", err
		}
		if n > 1000 {
			return "", Conflict("email", "no free organization name for %q", name)
		}
	}
}

// UserByEmail returns a user, for the operator's command line.
func (s *Service) UserByEmail(ctx context.Context, email string) (User, error) {
	norm, err := NormalizeEmail(email)
	if err != nil {
		return User{}, Invalid("email", "%v", err)
	}
	var u User
	err = s.store.View(ctx, func(tx Tx) error {
		var err error
		u, err = tx.UserByEmail(ctx, norm)
		return translate(err, "user "+quote(norm))
	})
	return u, err
}

// As returns the principal of a user acting with full rights, for the
// operator's command line.
func As(u User) Principal { return Principal{User: u, Scope: ScopeWrite} }

// UserPatch is a change to the signed-in user.
type UserPatch struct {
	Name *string
	// Password and CurrentPassword change the password; the current one
	// must be given when there is one.
	Password, CurrentPassword *string
}

// UpdateMe changes the principal's own name or password. A new password
// signs out every other session.
func (s *Service) UpdateMe(ctx context.Context, p Principal, patch UserPatch) (User, error) {
	if err := needWrite(p); err != nil {
		return User{}, err
	}
	if p.User.ID == "" {
		return User{}, Forbidden("the operator is not a user")
	}
	var u User
	err := s.update(ctx, func(tx Tx) error {
		var err error
		if u, err = tx.User(ctx, p.User.ID); err != nil {
			return translate(err, "user")
		}
		if patch.Name != nil {
			if err := CheckDisplayName(*patch.Name); err != nil {
				return Invalid("name", "%v", err)
			}
			u.Name = *patch.Name
		}
		if patch.Password != nil {
			if err := CheckPassword(*patch.Password); err != nil {
				return Invalid("password", "%v", err)
			}
			if u.PasswordHash != "" {
				cur := ""
				if patch.CurrentPassword != nil {
					cur = *patch.CurrentPassword
				}
				if ok, _ := checkPassword(u.PasswordHash, cur); !ok {
					return Invalid("current_password", "is not the current password")
				}
			}
			u.PasswordHash = HashPassword(*patch.Password)
			if err := tx.DeleteUserSessions(ctx, u.ID); err != nil {
				return err
			}
		}
		return tx.UpdateUser(ctx, u)
	})
	return u, err
}

// SetServerAdmin makes a user a server administrator or not, for the
// operator.
func (s *Service) SetServerAdmin(ctx context.Context, p Principal, email string, admin bool) error {
	if !p.User.ServerAdmin || p.Scope != ScopeWrite {
		return Forbidden("only server administrators change who is one")
	}
	return s.update(ctx, func(tx Tx) error {
		u, err := userByEmail(ctx, tx, email)
		if err != nil {
			return err
		}
		u.ServerAdmin = admin
		return tx.UpdateUser(ctx, u)
	})
}

// dummyHash is checked against when a sign-in names no user, so that
// the answer takes as long as for a wrong password: a hash with the
// parameters of HashPassword, whose key no password derives. It is
// written out rather than computed, which would cost every process
// (every gateway and every command) 19 MiB and an argon2 run at start.
var dummyHash = fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
	base64.RawStdEncoding.EncodeToString(make([]byte, argonSaltLen)), base64.RawStdEncoding.EncodeToString(make([]byte, argonKeyLen)))

// errSignIn is the one answer to every failed sign-in: which part was
// wrong is not said.
var errSignIn = &Error{Kind: KindUnauthenticated, Message: "wrong e-mail address or password"}

// SignIn checks an address and password and opens a session. The secret
// goes into the session cookie; only its hash is stored.
func (s *Service) SignIn(ctx context.Context, email, password string) (secret string, sess Session, u User, err error) {
	norm, nerr := NormalizeEmail(email)
	if nerr != nil || len(password) > MaxPassword {
		_, _ = checkPassword(dummyHash, password[:min(len(password), MaxPassword)])
		return "", Session{}, User{}, errSignIn
	}
	err = s.store.View(ctx, func(tx Tx) error {
		var err error
		u, err = tx.UserByEmail(ctx, norm)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		_, _ = checkPassword(dummyHash, password)
		return "", Session{}, User{}, errSignIn
	case err != nil:
		return "", Session{}, User{}, err
	case u.PasswordHash == "":
		_, _ = checkPassword(dummyHash, password)
		return "", Session{}, User{}, errSignIn
	}
	ok, err := checkPassword(u.PasswordHash, password)
	if err != nil {
		s.log.Error("stored password hash unreadable", "user", u.ID, "err", err)
		return "", Session{}, User{}, errSignIn
	}
	if !ok {
		return "", Session{}, User{}, errSignIn
	}
	secret, sess, err = s.openSession(ctx, u)
	return secret, sess, u, err
}

func (s *Service) openSession(ctx context.Context, u User) (string, Session, error) {
	secret, hash := newSecret(sessionPrefix)
	now := s.now().UTC()
	sess := Session{Hash: hash, UserID: u.ID, Created: now, Expires: now.Add(s.ttl)}
	err := s.update(ctx, func(tx Tx) error { return tx.CreateSession(ctx, sess) })
	return secret, sess, err
}

// SignOut ends the session whose cookie holds secret.
func (s *Service) SignOut(ctx context.Context, secret string) error {
	return s.update(ctx, func(tx Tx) error {
		err := tx.DeleteSession(ctx, HashSecret(secret))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	})
}

// NewSignInLink returns the secret of a link that signs the user in once
// within ttl, for the operator (a user created without a password, or
// one who lost it).
func (s *Service) NewSignInLink(ctx context.Context, p Principal, email string, ttl time.Duration) (string, error) {
	if !p.User.ServerAdmin || p.Scope != ScopeWrite {
		return "", Forbidden("only server administrators make sign-in links")
	}
	secret, hash := newSecret(linkPrefix)
	err := s.update(ctx, func(tx Tx) error {
		u, err := userByEmail(ctx, tx, email)
		if err != nil {
			return err
		}
		return tx.CreateSignInLink(ctx, SignInLink{Hash: hash, UserID: u.ID, Expires: s.now().UTC().Add(ttl)})
	})
	return secret, err
}

// SignInWithLink uses a sign-in link and opens a session.
func (s *Service) SignInWithLink(ctx context.Context, secret string) (string, Session, User, error) {
	bad := &Error{Kind: KindUnauthenticated, Message: "this sign-in link is not valid: it was used, has expired or never existed"}
	if !strings.HasPrefix(secret, linkPrefix) {
		return "", Session{}, User{}, bad
	}
	var u User
	err := s.update(ctx, func(tx Tx) error {
		l, err := tx.UseSignInLink(ctx, HashSecret(secret))
		if errors.Is(err, store.ErrNotFound) {
			return bad
		}
		if err != nil {
			return err
		}
		if !s.now().Before(l.Expires) {
			return bad
		}
		u, err = tx.User(ctx, l.UserID)
		return translate(err, "user")
	})
	if err != nil {
		return "", Session{}, User{}, err
	}
	secret, sess, err := s.openSession(ctx, u)
	return secret, sess, u, err
}

// errCredentials is the answer to a token or session that is not valid.
var errCredentials = &Error{Kind: KindUnauthenticated, Message: "the credentials are not valid: unknown, expired or revoked"}

// touchEvery is how often a token's last use is written: often enough to
// be useful, rarely enough that a busy script does not write on every
// request.
const touchEvery = time.Minute

// Authenticate returns the principal of a bearer token or session cookie
// secret.
func (s *Service) Authenticate(ctx context.Context, secret string) (Principal, error) {
	now := s.now()
	hash := HashSecret(secret)
	var p Principal
	switch {
	case strings.HasPrefix(secret, tokenPrefix):
		var tok Token
		err := s.store.View(ctx, func(tx Tx) error {
			var err error
			if tok, err = tx.TokenByHash(ctx, hash); err != nil {
				return err
			}
			p.User, err = tx.User(ctx, tok.UserID)
			return err
		})
		if errors.Is(err, store.ErrNotFound) {
			return Principal{}, errCredentials
		}
		if err != nil {
			return Principal{}, err
		}
		if !tok.Usable(now) {
			return Principal{}, errCredentials
		}
		p.Scope, p.Token = tok.Scope, tok.ID
		if now.Sub(tok.LastUsed) >= touchEvery {
			if err := s.update(ctx, func(tx Tx) error { return tx.TouchToken(ctx, tok.ID, now.UTC()) }); err != nil {
				s.log.Warn("recording a token's use", "token", tok.ID, "err", err)
			}
		}
		return p, nil
	case strings.HasPrefix(secret, sessionPrefix):
		var sess Session
		err := s.store.View(ctx, func(tx Tx) error {
			var err error
			if sess, err = tx.SessionByHash(ctx, hash); err != nil {
				return err
			}
			p.User, err = tx.User(ctx, sess.UserID)
			return err
		})
		if errors.Is(err, store.ErrNotFound) {
			return Principal{}, errCredentials
		}
		if err != nil {
			return Principal{}, err
		}
		if !now.Before(sess.Expires) {
			return Principal{}, errCredentials
		}
		p.Scope = ScopeWrite
		return p, nil
	}
	return Principal{}, errCredentials
}

// Me returns the principal's user as stored now.
func (s *Service) Me(ctx context.Context, p Principal) (User, error) {
	if p.User.ID == "" {
		return p.User, nil
	}
	var u User
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		u, err = tx.User(ctx, p.User.ID)
		return translate(err, "user")
	})
	return u, err
}

package docker

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"
)

// DefaultTokenTTL is how long a token Portico issues stays valid.
const DefaultTokenTTL = 5 * time.Minute

// tokenPrefix marks Portico's tokens and their format version.
const tokenPrefix = "pt1."

// A Signer issues and checks the bearer tokens Portico gives registry
// clients on domains where it owns the auth handshake. A token is the
// signed list of repositories (by their public names) and actions it
// grants on one domain, valid until its expiry. It holds no upstream
// credential or token: those stay in the gateway. Every replica that
// shares the key accepts every other replica's tokens.
type Signer struct {
	key []byte
	ttl time.Duration
	now func() time.Time
}

// NewSigner returns a signer with key (at least 32 bytes), or with a
// random key when key is nil: tokens are then accepted by this process
// only.
func NewSigner(key []byte) (*Signer, error) {
	if key == nil {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("token key: %w", err)
		}
	}
	if len(key) < 32 {
		return nil, fmt.Errorf("token key: %d bytes, need at least 32", len(key))
	}
	return &Signer{key: slices.Clone(key), ttl: DefaultTokenTTL, now: time.Now}, nil
}

// ReadTokenKey reads a token key file: at least 32 bytes of secret
// (surrounding white space is ignored, so a line of hex or base64 from a
// password generator works).
func ReadTokenKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("token key file: %w", err)
	}
	b = []byte(strings.TrimSpace(string(b)))
	if len(b) < 32 {
		return nil, fmt.Errorf("token key file %s: %d bytes, need at least 32", path, len(b))
	}
	return b, nil
}

// grant is one repository a token gives access to.
type grant struct {
	Name string `json:"n"`
	Push bool   `json:"p,omitempty"`
}

type claims struct {
	Aud    string  `json:"aud"` // the domain
	Exp    int64   `json:"exp"` // Unix seconds
	Grants []grant `json:"g,omitempty"`
}

// issue returns a token for c, with the expiry set from the signer's TTL,
// and its lifetime.
func (s *Signer) issue(c claims) (string, time.Duration) {
	c.Exp = s.now().Add(s.ttl).Unix()
	payload, _ := json.Marshal(c) // plain strings and numbers: cannot fail
	enc := base64.RawURLEncoding
	body := tokenPrefix + enc.EncodeToString(payload)
	return body + "." + enc.EncodeToString(s.mac(body)), s.ttl
}

func (s *Signer) mac(body string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(body))
	return m.Sum(nil)
}

var (
	errNoToken  = errors.New("no Portico token")
	errBadToken = errors.New("invalid token")
	errExpired  = errors.New("expired token")
	errAudience = errors.New("token for another domain")
)

// verify checks tok's signature, expiry and domain and returns its
// claims.
func (s *Signer) verify(tok, domain string) (claims, error) {
	if !strings.HasPrefix(tok, tokenPrefix) {
		return claims{}, errNoToken
	}
	dot := strings.LastIndexByte(tok, '.')
	if dot < len(tokenPrefix) {
		return claims{}, errBadToken
	}
	body, sig := tok[:dot], tok[dot+1:]
	enc := base64.RawURLEncoding
	got, err := enc.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(body)) {
		return claims{}, errBadToken
	}
	payload, err := enc.DecodeString(body[len(tokenPrefix):])
	if err != nil {
		return claims{}, errBadToken
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return claims{}, errBadToken
	}
	if s.now().Unix() >= c.Exp {
		return claims{}, errExpired
	}
	if c.Aud != domain {
		return claims{}, errAudience
	}
	return c, nil
}

// allows reports whether c grants access to the repository name, for
// pushing when push is set.
func (c *claims) allows(name string, push bool) bool {
	for _, g := range c.Grants {
		if g.Name == name && (!push || g.Push) {
			return true
		}
	}
	return false
}

// bearer returns the token of an "Authorization: Bearer …" header.
func bearer(h []string) string {
	if len(h) == 0 {
		return ""
	}
	scheme, tok, ok := strings.Cut(h[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// scope is one "repository:NAME:ACTIONS" item of a token request.
type scope struct {
	name       string
	pull, push bool
}

// parseScopes reads the scope parameters of a token request: each value
// holds space-separated scopes. Scopes of other types (registry:catalog:*)
// and malformed ones are ignored, as the token specification allows a
// server to grant less than asked.
func parseScopes(values []string) []scope {
	var out []scope
	for _, v := range values {
		for item := range strings.FieldsSeq(v) {
			typ, rest, ok := strings.Cut(item, ":")
			if !ok || typ != "repository" {
				continue
			}
			i := strings.LastIndexByte(rest, ':')
			if i <= 0 {
				continue
			}
			sc := scope{name: rest[:i]}
			for a := range strings.SplitSeq(rest[i+1:], ",") {
				switch a {
				case "pull":
					sc.pull = true
				case "push":
					sc.push = true
				case "*":
					sc.pull, sc.push = true, true
				}
			}
			if sc.pull || sc.push {
				out = append(out, sc)
			}
		}
	}
	return out
}

// pushAuth is what the credentials of a token request prove: Basic
// credentials, or those of an OAuth2 password grant posted as a form
// (containerd tries that first). Portico goes upstream with a rule's
// credentials, so it lends them only to a client that already holds
// them: a rule with "push": true grants push to a client that logs in
// ("docker login") with that rule's user and password, and to nobody
// else. Until per-user accounts exist, these credentials are the whole of
// push authorization.
type pushAuth struct {
	presented bool
	sum       [32]byte // SHA-256 of the client's "user:password"
	log       *slog.Logger
	results   map[*rule]bool
}

func (h *Handler) pushAuth(r *http.Request) *pushAuth {
	a := &pushAuth{log: h.opts.Logger}
	user, pass, ok := r.BasicAuth()
	if !ok && r.PostForm.Get("grant_type") == "password" {
		user, pass, ok = r.PostForm.Get("username"), r.PostForm.Get("password"), true
	}
	if ok {
		a.presented = true
		a.sum = sha256.Sum256([]byte(user + ":" + pass))
	}
	return a
}

// allows reports whether the client may push to r's images.
func (a *pushAuth) allows(r *rule) bool {
	if !a.presented || !r.push || !r.creds.set() {
		return false
	}
	if ok, done := a.results[r]; done {
		return ok
	}
	ok := false
	// Read anew each time, as for upstream requests, so a rotated secret
	// applies at once.
	if user, pass, err := r.creds.read(); err != nil {
		a.log.Warn("push refused: the rule's credentials cannot be read", "err", err)
	} else {
		want := sha256.Sum256([]byte(user + ":" + pass))
		ok = subtle.ConstantTimeCompare(a.sum[:], want[:]) == 1
	}
	if a.results == nil {
		a.results = make(map[*rule]bool)
	}
	a.results[r] = ok
	return ok
}

// any reports whether the client's credentials are those of one of rules.
func (a *pushAuth) any(rules []*rule) bool {
	found := false
	for _, r := range rules {
		// Every rule is checked, so the time taken does not tell which.
		found = a.allows(r) || found
	}
	return found
}

package docker

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"portico/internal/upstream"
)

// Upstream authentication is used on domains where Portico owns the auth
// handshake: the gateway, not the client, authenticates to the registry,
// anonymously or with the rule's credentials.

const (
	// challengeTTL is how long a registry's auth challenge is trusted
	// before it is asked again.
	challengeTTL = 10 * time.Minute
	// tokenSlack renews upstream tokens this long before they expire, so
	// that a token never expires between use and arrival.
	tokenSlack = 10 * time.Second
	// defaultUpstreamTokenTTL applies when a token service omits
	// expires_in (the token specification's default).
	defaultUpstreamTokenTTL = 60 * time.Second
	// maxTokenResponse bounds a token service's answer.
	maxTokenResponse = 1 << 20
)

// errRefused: the registry's token service refused the gateway's
// credentials (or anonymous access) for a repository.
var errRefused = errors.New("access refused")

// errNoCredentials: a rule's credentials could not be read.
var errNoCredentials = errors.New("credentials unavailable")

// credentials name where a rule's upstream credentials live.
type credentials struct {
	env, file string
}

func (c credentials) set() bool { return c.env != "" || c.file != "" }

// String names the source, never the secret.
func (c credentials) String() string {
	if c.env != "" {
		return "credentials-env " + c.env
	}
	if c.file != "" {
		return "credentials-file " + c.file
	}
	return "anonymous"
}

// read returns the user and password, read anew each time so that a
// rotated secret is used without a reload.
func (c credentials) read() (user, pass string, err error) {
	var v string
	switch {
	case c.env != "":
		var ok bool
		if v, ok = os.LookupEnv(c.env); !ok {
			return "", "", fmt.Errorf("%w: %s: not set", errNoCredentials, c)
		}
	case c.file != "":
		b, err := os.ReadFile(c.file)
		if err != nil {
			return "", "", fmt.Errorf("%w: %s: %w", errNoCredentials, c, err)
		}
		v = string(b)
	default:
		return "", "", nil
	}
	v = strings.TrimSpace(v)
	user, pass, ok := strings.Cut(v, ":")
	if !ok || user == "" {
		return "", "", fmt.Errorf("%w: %s: expected user:password", errNoCredentials, c)
	}
	return user, pass, nil
}

// challenge is what a registry's /v2/ answered.
type challenge struct {
	scheme  string // "", "basic" or "bearer"
	realm   string
	service string
	at      time.Time
}

type upstreamKey struct {
	base  string // backend URL
	repo  string
	creds credentials
	push  bool
}

// on returns the key of the same repository and credentials on the
// registry at base (a rule's fallback); nil for nil.
func (k *upstreamKey) on(base string) *upstreamKey {
	if k == nil {
		return nil
	}
	c := *k
	c.base = base
	return &c
}

type upstreamToken struct {
	mu    sync.Mutex // held while fetching, so one request fetches for all
	value string     // Authorization header value
	exp   time.Time
}

// upstreamAuth caches registry challenges and upstream tokens. It lives as
// long as the process (in Options), across manifest reloads.
type upstreamAuth struct {
	client *http.Client
	now    func() time.Time

	mu         sync.Mutex
	challenges map[string]challenge
	tokens     map[upstreamKey]*upstreamToken
}

func newUpstreamAuth(client *http.Client) *upstreamAuth {
	return &upstreamAuth{
		client:     client,
		now:        time.Now,
		challenges: make(map[string]challenge),
		tokens:     make(map[upstreamKey]*upstreamToken),
	}
}

// needsAuth reports whether the registry at base asks for
// authentication at all.
func (a *upstreamAuth) needsAuth(ctx context.Context, base string) (bool, error) {
	ch, err := a.challenge(ctx, base)
	return ch.scheme != "", err
}

// challenge returns the registry's auth challenge, asking /v2/ when the
// cached one is missing or old.
func (a *upstreamAuth) challenge(ctx context.Context, base string) (challenge, error) {
	a.mu.Lock()
	ch, ok := a.challenges[base]
	a.mu.Unlock()
	if ok && a.now().Sub(ch.at) < challengeTTL {
		return ch, nil
	}
	policy, err := upstream.NewPolicy(base)
	if err != nil {
		return challenge{}, fmt.Errorf("registry ping: %w", err)
	}
	req, err := http.NewRequestWithContext(upstream.WithPolicy(ctx, policy), http.MethodGet, base+"/v2/", nil)
	if err != nil {
		return challenge{}, err
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return challenge{}, fmt.Errorf("registry ping: %w", err)
	}
	drain(resp.Body)
	switch resp.StatusCode {
	case http.StatusOK:
		ch = challenge{}
	case http.StatusUnauthorized:
		ch, err = parseChallenge(resp.Header.Values("Www-Authenticate"))
		if err != nil {
			return challenge{}, fmt.Errorf("registry ping: %w", err)
		}
	default:
		return challenge{}, fmt.Errorf("registry ping: status %d", resp.StatusCode)
	}
	ch.at = a.now()
	a.mu.Lock()
	a.challenges[base] = ch
	a.mu.Unlock()
	return ch, nil
}

// forget drops what is cached for k, after the registry refused it.
func (a *upstreamAuth) forget(k upstreamKey) {
	a.mu.Lock()
	delete(a.tokens, k)
	delete(a.challenges, k.base)
	a.mu.Unlock()
}

// authorization returns the Authorization header value to send to the
// registry for k ("" when it needs none).
func (a *upstreamAuth) authorization(ctx context.Context, k upstreamKey) (string, error) {
	ch, err := a.challenge(ctx, k.base)
	if err != nil {
		return "", err
	}
	switch ch.scheme {
	case "":
		return "", nil
	case "basic":
		user, pass, err := k.creds.read()
		if err != nil {
			return "", err
		}
		if user == "" {
			return "", fmt.Errorf("%w: the registry asks for Basic credentials and the rule has none", errRefused)
		}
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass)), nil
	}
	a.mu.Lock()
	t, ok := a.tokens[k]
	if !ok {
		t = &upstreamToken{}
		a.tokens[k] = t
	}
	a.mu.Unlock()

	t.mu.Lock()
	defer t.mu.Unlock()
	if t.value != "" && a.now().Before(t.exp) {
		return t.value, nil
	}
	tok, ttl, err := a.fetchToken(ctx, ch, k)
	if err != nil {
		return "", err
	}
	if ttl -= tokenSlack; ttl < tokenSlack {
		ttl = tokenSlack
	}
	t.value, t.exp = "Bearer "+tok, a.now().Add(ttl)
	return t.value, nil
}

// fetchToken asks the registry's token service for a token for k's
// repository. The token is never logged.
func (a *upstreamAuth) fetchToken(ctx context.Context, ch challenge, k upstreamKey) (string, time.Duration, error) {
	u, err := url.Parse(ch.realm)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", 0, fmt.Errorf("token service: invalid realm %q", ch.realm)
	}
	q := u.Query()
	if ch.service != "" {
		q.Set("service", ch.service)
	}
	actions := "pull"
	if k.push {
		actions = "pull,push"
	}
	q.Set("scope", "repository:"+k.repo+":"+actions)
	u.RawQuery = q.Encode()
	// The realm is whatever the registry's challenge names: it may be
	// fetched with the rule's credentials, but only on a public address
	// (or, if the operator allows it, a private one).
	policy, err := upstream.NewPolicy(k.base)
	if err == nil {
		policy, err = policy.WithRealm(u)
	}
	if err != nil {
		return "", 0, fmt.Errorf("token service: %w", err)
	}
	req, err := http.NewRequestWithContext(upstream.WithPolicy(ctx, policy), http.MethodGet, u.String(), nil)
	if err != nil {
		return "", 0, fmt.Errorf("token service: %w", err)
	}
	user, pass, err := k.creds.read()
	if err != nil {
		return "", 0, err
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("token service %s: %w", u.Host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		drain(resp.Body)
		err := fmt.Errorf("token service %s (%s): status %d", u.Host, k.creds, resp.StatusCode)
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			err = fmt.Errorf("%w: %w", errRefused, err)
		}
		return "", 0, err
	}
	var body struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxTokenResponse)).Decode(&body); err != nil {
		return "", 0, fmt.Errorf("token service %s: %w", u.Host, err)
	}
	tok := body.Token
	if tok == "" {
		tok = body.AccessToken
	}
	if tok == "" {
		return "", 0, fmt.Errorf("token service %s: no token in the answer", u.Host)
	}
	ttl := defaultUpstreamTokenTTL
	if body.ExpiresIn > 0 {
		ttl = time.Duration(body.ExpiresIn) * time.Second
	}
	return tok, ttl, nil
}

// parseChallenge reads WWW-Authenticate values (RFC 7235) and returns
// the Bearer challenge, or Basic when that is all there is.
func parseChallenge(values []string) (challenge, error) {
	var basic bool
	for _, v := range values {
		scheme, params, _ := strings.Cut(strings.TrimSpace(v), " ")
		switch strings.ToLower(scheme) {
		case "bearer":
			p := parseAuthParams(params)
			if p["realm"] == "" {
				return challenge{}, errors.New("bearer challenge without a realm")
			}
			return challenge{scheme: "bearer", realm: p["realm"], service: p["service"]}, nil
		case "basic":
			basic = true
		}
	}
	if basic {
		return challenge{scheme: "basic"}, nil
	}
	return challenge{}, fmt.Errorf("unsupported challenge %q", strings.Join(values, ", "))
}

// parseAuthParams reads comma-separated key=value and key="value" pairs.
func parseAuthParams(s string) map[string]string {
	out := make(map[string]string)
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			return out
		}
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			return out
		}
		key := strings.ToLower(strings.TrimSpace(s[:eq]))
		s = strings.TrimLeft(s[eq+1:], " \t")
		var val string
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
			}
			val = b.String()
			if i < len(s) {
				i++
			}
			s = s[i:]
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			val = strings.TrimSpace(s[:end])
			s = s[end:]
		}
		out[key] = val
	}
}

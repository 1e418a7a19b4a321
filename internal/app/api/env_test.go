package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"portico/internal/control"
	"portico/internal/route"
	"portico/internal/stats"
	"portico/internal/store"
	"portico/internal/store/postgres"
	"portico/internal/store/sqlite"
	"portico/internal/testenv"
)

// baseDomain is the base domain of the test gateway: organization acme
// serves acme.gw.test.
const baseDomain = "gw.test"

// env is an API over a real store (SQLite unless a test asks for
// PostgreSQL), served by a real HTTP server, with every request and
// answer checked against the OpenAPI document. Domains are verified
// against a local DNS server.
type env struct {
	t      *testing.T
	srv    *httptest.Server
	svc    *control.Service
	st     envStore
	dns    *testenv.DNSServer
	router routers.Router
}

// envStore is what the API needs of a store: both stores are one.
type envStore interface {
	control.Store
	store.Store
}

func init() {
	// Exports are text: the document says which, the body is not JSON.
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/csv", openapi3filter.PlainBodyDecoder)
}

func newEnv(t *testing.T) *env { return newEnvWith(t, nil) }

// newEnvWith is newEnv with the service's configuration changed by
// change (nil changes nothing).
func newEnvWith(t *testing.T, change func(*control.Config)) *env {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newEnvOn(t, st, change)
}

// newPostgresEnv is newEnv on a fresh PostgreSQL database, or skips (see
// testenv.Postgres).
func newPostgresEnv(t *testing.T) *env {
	t.Helper()
	st, err := postgres.Open(context.Background(), postgres.Config{URL: testenv.Postgres(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newEnvOn(t, st, nil)
}

func newEnvOn(t *testing.T, st envStore, change func(*control.Config)) *env {
	t.Helper()
	ctx := context.Background()
	ns := testenv.NewDNSServer(t)
	cc := control.Config{Store: st, Rules: &route.Checker{}, BaseDomain: baseDomain,
		Domains: control.DomainPolicy{Resolver: ns.Resolver()}}
	if change != nil {
		change(&cc)
	}
	svc := control.New(cc)
	// The clock of the sign-in limits stands still, so that no attempt
	// is refilled while a test runs.
	frozen := time.Now()
	a := New(Config{Service: svc, Stats: stats.New(st), Exporter: st, Now: func() time.Time { return frozen }})
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)

	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI())
	if err != nil {
		t.Fatalf("loading the OpenAPI document: %v", err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("the OpenAPI document is not valid: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: srv.URL}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, srv: srv, svc: svc, st: st, dns: ns, router: router}
}

// cred is how a request authenticates: a bearer token, a session cookie
// or nothing.
type cred struct {
	bearer, cookie string
}

func bearer(tok string) cred { return cred{bearer: tok} }

// answer is a response, its body read.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into v, failing the test if it is not JSON.
func (a answer) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("answer %d is not JSON: %v\n%s", a.status, err, a.body)
	}
}

// errorOf returns the error code and field of an error answer.
func (a answer) errorOf(t *testing.T) (code, field, message string) {
	t.Helper()
	var e errorBody
	a.json(t, &e)
	if e.Error.Code == "" {
		t.Fatalf("answer %d has no error code: %s", a.status, a.body)
	}
	return e.Error.Code, e.Error.Field, e.Error.Message
}

// request options.
type opt func(*http.Request, *callOpts)

type callOpts struct {
	// invalid marks a request that is meant to break the document (bad
	// input tests): only its answer is checked.
	invalid bool
}

func header(k, v string) opt {
	return func(r *http.Request, _ *callOpts) { r.Header.Set(k, v) }
}

var invalidRequest opt = func(_ *http.Request, o *callOpts) { o.invalid = true }

// call sends a request; body is marshalled to JSON unless it is a string
// (sent as it is) or nil.
func (e *env) call(method, path string, c cred, body any, opts ...opt) answer {
	e.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			e.t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(raw))
	if err != nil {
		e.t.Fatal(err)
	}
	if raw != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	if c.cookie != "" {
		req.AddCookie(&http.Cookie{Name: SessionCookie, Value: c.cookie})
	}
	var o callOpts
	for _, f := range opts {
		f(req, &o)
	}
	in := e.validateRequest(req, raw, o)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, body: b}
	e.validateResponse(in, a, method+" "+path)
	return a
}

// validateRequest checks a request against the document and returns
// what the answer is checked with.
func (e *env) validateRequest(req *http.Request, raw []byte, o callOpts) *openapi3filter.RequestValidationInput {
	e.t.Helper()
	rt, params, err := e.router.FindRoute(req)
	if err != nil {
		if o.invalid {
			return nil
		}
		e.t.Fatalf("%s %s is not in the OpenAPI document: %v", req.Method, req.URL.Path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: rt,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}}
	if o.invalid {
		return in
	}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		e.t.Errorf("%s %s does not follow the OpenAPI document: %v", req.Method, req.URL.Path, err)
	}
	// ValidateRequest read the body: give it back for sending.
	req.Body = io.NopCloser(bytes.NewReader(raw))
	return in
}

func (e *env) validateResponse(in *openapi3filter.RequestValidationInput, a answer, what string) {
	e.t.Helper()
	if in == nil {
		return
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: a.status, Header: a.header,
		Body: io.NopCloser(bytes.NewReader(a.body)), Options: in.Options}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		e.t.Errorf("answer %d to %s does not follow the OpenAPI document: %v\n%s", a.status, what, err, a.body)
	}
}

// user creates a user without a password and returns it with a write
// token.
func (e *env) user(email string, admin bool) (control.User, string) {
	e.t.Helper()
	u, _, err := e.svc.CreateUser(context.Background(), control.Operator, control.NewUser{Email: email, ServerAdmin: admin})
	if err != nil {
		e.t.Fatal(err)
	}
	return u, e.token(u, control.ScopeWrite, 0)
}

// token makes an API token for u.
func (e *env) token(u control.User, scope control.Scope, ttl time.Duration) string {
	e.t.Helper()
	secret, _, err := e.svc.CreateToken(context.Background(), control.As(u), control.NewToken{Scope: scope, TTL: ttl})
	if err != nil {
		e.t.Fatal(err)
	}
	return secret
}

// org creates an organization owned by the holder of tok.
func (e *env) org(tok, name string) {
	e.t.Helper()
	if a := e.call("POST", "/api/v1/orgs", bearer(tok), map[string]any{"name": name}); a.status != http.StatusCreated {
		e.t.Fatalf("creating org %s: %d %s", name, a.status, a.body)
	}
}

// fileRule is a file-v1 rule on host.
func fileRule(host, path string) map[string]any {
	return map[string]any{"type": "file-v1", "domain": host, "incoming-path": path + "/{version}/app.tar.gz",
		"outgoing-url": "https://cdn.example.com/" + strings.TrimPrefix(path, "/") + "/{version}/app.tar.gz"}
}

// pkg creates a package and returns its id.
func (e *env) pkg(tok, org, name string, rule map[string]any) string {
	e.t.Helper()
	a := e.call("POST", "/api/v1/packages", bearer(tok), map[string]any{"org": org, "name": name, "rule": rule})
	if a.status != http.StatusCreated {
		e.t.Fatalf("creating package %s: %d %s", name, a.status, a.body)
	}
	var p packageJSON
	a.json(e.t, &p)
	return p.ID
}

// collection creates a docker-v2 collection on the organization's base
// domain and returns its id.
func (e *env) collection(tok, org, name string) string {
	e.t.Helper()
	a := e.call("POST", "/api/v1/collections", bearer(tok), map[string]any{"org": org, "name": name,
		"rule": map[string]any{"type": "docker-v2", "domain": org + "." + baseDomain, "pattern": name + "/*", "registry": "ghcr.io"}})
	if a.status != http.StatusCreated {
		e.t.Fatalf("creating collection %s: %d %s", name, a.status, a.body)
	}
	var c collectionJSON
	a.json(e.t, &c)
	return c.ID
}

// domain adds a custom domain, pending, to the organization.
func (e *env) domain(tok, org, name string) string {
	e.t.Helper()
	if a := e.call("POST", "/api/v1/domains", bearer(tok), map[string]any{"org": org, "name": name}); a.status != http.StatusCreated {
		e.t.Fatalf("adding domain %s: %d %s", name, a.status, a.body)
	}
	return name
}

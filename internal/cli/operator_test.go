package cli_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"portico/internal/app"
	"portico/internal/cli"
	"portico/internal/config"
	"portico/internal/control"
	"portico/internal/testenv"
)

// A site is a store the operator's commands run on: the embedded one in
// a directory, or a PostgreSQL database.
type site struct {
	t    *testing.T
	args []string // the store flags
	loc  config.StoreLocation
	dir  string // the data directory; "" with PostgreSQL
}

// eachStore runs test on a fresh SQLite store and a fresh PostgreSQL
// database.
func eachStore(t *testing.T, test func(t *testing.T, s *site)) {
	t.Run("sqlite", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		test(t, &site{t: t, args: []string{"--data", dir}, loc: config.StoreLocation{Data: dir}, dir: dir})
	})
	t.Run("postgres", func(t *testing.T) {
		url := testenv.Postgres(t)
		test(t, &site{t: t, args: []string{"--database", url, "--data", "none"}, loc: config.StoreLocation{Data: "none", Database: url}})
	})
}

// run runs a portico command on the site's store with stdin as its
// standard input, and returns its exit code and output.
func (s *site) run(stdin string, args ...string) (code int, stdout, stderr string) {
	s.t.Helper()
	return runCLI(s.t, strings.NewReader(stdin), append(args, s.args...)...)
}

func runCLI(t *testing.T, stdin io.Reader, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	// Nothing from the test's own environment (PORTICO_DATA…) applies.
	env := &cli.Env{Stdin: stdin, Stdout: &out, Stderr: &errb, Lookup: func(string) (string, bool) { return "", false }}
	code = cli.RunEnv(context.Background(), env, args)
	return code, out.String(), errb.String()
}

// must runs a command that must succeed.
func (s *site) must(stdin string, args ...string) (stdout, stderr string) {
	s.t.Helper()
	code, out, errOut := s.run(stdin, args...)
	if code != 0 {
		s.t.Fatalf("portico %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out, errOut
}

// fails runs a command that must fail with the exit code, saying want.
func (s *site) fails(code int, want, stdin string, args ...string) {
	s.t.Helper()
	got, out, errOut := s.run(stdin, args...)
	if got != code || !strings.Contains(errOut, want) {
		s.t.Errorf("portico %s: exit %d, stderr:\n%s\nwant exit %d and %q", strings.Join(args, " "), got, errOut, code, want)
	}
	if out != "" && code != 0 {
		s.t.Errorf("portico %s failed and wrote on standard output:\n%s", strings.Join(args, " "), out)
	}
}

// service opens the site's store as the commands do.
func (s *site) service(base string) *control.Service {
	s.t.Helper()
	svc, closeStore, err := app.OpenService(s.t.Context(), s.loc, config.Control{BaseDomain: base}, app.StoreOptions{})
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(closeStore)
	return svc
}

const password = "correct horse battery staple"

func TestUsersAdd(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		// Refused input writes nothing: not even the store is created.
		s.fails(1, "no password on standard input", "", "users", "add", "admin@example.org", "--admin")
		s.fails(1, "no password on standard input", "\n", "users", "add", "admin@example.org")
		s.fails(1, "the password must be at least 10 characters", "short\n", "users", "add", "admin@example.org")
		s.fails(1, "must be at most 1024 bytes", strings.Repeat("x", 2000)+"\n", "users", "add", "admin@example.org")
		if s.dir != "" {
			if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
				t.Errorf("refused users add left %s behind (%v)", s.dir, err)
			}
		}
		s.fails(2, `"admin" is not an e-mail address`, password, "users", "add", "admin")
		s.fails(2, "give the user's e-mail address", password, "users", "add")
		s.fails(2, `unexpected argument "b@example.org"`, password, "users", "add", "a@example.org", "b@example.org")
		s.fails(2, "flag provided but not defined: -frobnicate", password, "users", "add", "a@example.org", "--frobnicate")

		out, errOut := s.must(password+"\r\nignored second line\n", "users", "add", "Admin@Example.org", "--admin", "--name", "The Admin")
		if out != "" {
			t.Errorf("users add wrote %q on standard output, want nothing", out)
		}
		if !strings.Contains(errOut, `added server administrator admin@example.org, with the personal organization "user-admin"`) {
			t.Errorf("users add said:\n%s", errOut)
		}
		svc := s.service("")
		ctx := t.Context()
		if _, _, u, err := svc.SignIn(ctx, "admin@example.org", password); err != nil || !u.ServerAdmin || u.Name != "The Admin" {
			t.Errorf("signing in with the password given on standard input: %+v, %v; want a server administrator named The Admin", u, err)
		}
		if _, _, _, err := svc.SignIn(ctx, "admin@example.org", password+"\r"); err == nil {
			t.Error("the line ending became part of the password")
		}
		s.fails(1, `a user with the address "admin@example.org" exists`, password, "users", "add", "admin@example.org")

		s.must(password, "users", "add", "dev@example.org")
		if _, _, u, err := svc.SignIn(ctx, "dev@example.org", password); err != nil || u.ServerAdmin {
			t.Errorf("a user added without --admin: %+v, %v", u, err)
		}
	})
}

func TestUsersLink(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		// No password is read with --link: standard input is not
		// looked at.
		out, errOut := s.must("not a password\n", "users", "add", "ann@example.org", "--link", "--link-ttl", "1h")
		link := strings.TrimSuffix(out, "\n")
		if !strings.HasPrefix(link, "pl_") || strings.Contains(link, "\n") {
			t.Fatalf("users add --link printed %q on standard output, want the link alone", out)
		}
		if !strings.Contains(errOut, "POST /api/v1/session") {
			t.Errorf("users add --link does not say how to use the link:\n%s", errOut)
		}
		svc := s.service("")
		ctx := t.Context()
		if _, _, _, err := svc.SignIn(ctx, "ann@example.org", "not a password"); err == nil {
			t.Error("a user added with --link has a password")
		}
		_, _, u, err := svc.SignInWithLink(ctx, link)
		if err != nil || u.Email != "ann@example.org" {
			t.Fatalf("signing in with the link: %+v, %v", u, err)
		}
		if _, _, _, err := svc.SignInWithLink(ctx, link); err == nil {
			t.Error("the link worked twice")
		}
		out, _ = s.must("", "users", "link", "ann@example.org")
		if _, _, _, err := svc.SignInWithLink(ctx, strings.TrimSpace(out)); err != nil {
			t.Errorf("a second link from users link: %v", err)
		}
		s.fails(1, `user "nobody@example.org" not found`, "", "users", "link", "nobody@example.org")
		s.fails(2, "--link-ttl must be positive", "", "users", "add", "bob@example.org", "--link", "--link-ttl", "-1h")
	})
}

func TestTokensCreate(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		s.must(password, "users", "add", "admin@example.org", "--admin")
		out, errOut := s.must("", "tokens", "create", "--user", "admin@example.org", "--scope", "write", "--expires", "90d", "--name", "ci")
		secret := strings.TrimSuffix(out, "\n")
		if !strings.HasPrefix(secret, "portico_") || strings.ContainsAny(secret, " \n") {
			t.Fatalf("tokens create printed %q, want the token alone", out)
		}
		if !strings.Contains(errOut, "created write token") {
			t.Errorf("tokens create said:\n%s", errOut)
		}
		svc := s.service("")
		ctx := t.Context()
		p, err := svc.Authenticate(ctx, secret)
		if err != nil || p.Scope != control.ScopeWrite || p.User.Email != "admin@example.org" {
			t.Fatalf("authenticating with the token: %+v, %v", p, err)
		}
		toks, err := svc.ListTokens(ctx, p, control.Page{})
		if err != nil || len(toks) != 1 {
			t.Fatalf("tokens of the user: %v, %v", toks, err)
		}
		if want := time.Now().Add(90 * 24 * time.Hour); toks[0].Name != "ci" || toks[0].Expires.Sub(want).Abs() > time.Minute {
			t.Errorf("token %+v, want the name ci and an expiry around %v", toks[0], want)
		}

		out, _ = s.must("", "tokens", "create", "--user", "admin@example.org", "--scope", "read")
		if p, err := svc.Authenticate(ctx, strings.TrimSpace(out)); err != nil || p.Scope != control.ScopeRead {
			t.Errorf("a read token: %+v, %v", p, err)
		}
		toks, _ = svc.ListTokens(ctx, p, control.Page{})
		if len(toks) != 2 || !toks[0].Expires.IsZero() && !toks[1].Expires.IsZero() {
			t.Errorf("tokens %+v: want two, one of them never expiring", toks)
		}

		s.fails(2, `--scope: unknown scope "admin": want read or write`, "", "tokens", "create", "--user", "admin@example.org", "--scope", "admin")
		s.fails(2, "--scope is required", "", "tokens", "create", "--user", "admin@example.org")
		s.fails(2, "--user is required", "", "tokens", "create", "--scope", "read")
		s.fails(2, `--expires: "soon": want a duration such as 720h or 90d`, "", "tokens", "create", "--user", "admin@example.org", "--scope", "read", "--expires", "soon")
		s.fails(2, `--expires: "-5m": must be positive`, "", "tokens", "create", "--user", "admin@example.org", "--scope", "read", "--expires", "-5m")
		s.fails(1, `user "nobody@example.org" not found`, "", "tokens", "create", "--user", "nobody@example.org", "--scope", "read")
		s.fails(1, "name: U+000A at offset 1 is not allowed", "", "tokens", "create", "--user", "admin@example.org", "--scope", "read", "--name", "a\nb")
		if toks, _ := svc.ListTokens(ctx, p, control.Page{}); len(toks) != 2 {
			t.Errorf("%d tokens after the refused commands, want 2", len(toks))
		}
	})
}

func TestDomainsAdd(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		s.must(password, "users", "add", "admin@example.org", "--admin")
		s.fails(1, `organization "acme" not found`, "", "domains", "add", "get.acme.example", "--org", "acme")
		s.fails(2, "--org is required", "", "domains", "add", "get.acme.example")
		s.fails(2, "give the domain's name", "", "domains", "add", "--org", "user-admin")
		s.fails(2, "", "", "domains", "add", "bad/name", "--org", "user-admin")

		out, _ := s.must("", "domains", "add", "Get.Example.org", "--org", "user-admin", "--verified")
		if out != "get.example.org: verified, a domain of organization \"user-admin\"\n" {
			t.Errorf("domains add --verified printed %q", out)
		}
		out, _ = s.must("", "domains", "add", "--org", "user-admin", "pending.example.org")
		if !strings.Contains(out, "pending.example.org: pending") || !strings.Contains(out, "_portico-challenge.pending.example.org\tTXT\tportico-") {
			t.Errorf("domains add without --verified printed:\n%s", out)
		}
		s.fails(1, `the domain "get.example.org" has been added already`, "", "domains", "add", "get.example.org", "--org", "user-admin", "--verified")

		svc := s.service("")
		ds, err := svc.ListDomains(t.Context(), control.Operator, "user-admin", control.Page{})
		if err != nil || len(ds) != 2 || !ds[0].Trusted() || ds[1].Status != control.DomainPending {
			t.Errorf("domains in the store: %+v, %v; want get.example.org trusted and pending.example.org pending", ds, err)
		}
	})
}

func TestOperatorStoreFlags(t *testing.T) {
	code, _, errOut := runCLI(t, strings.NewReader(password), "users", "add", "a@example.org", "--data", "none")
	if code != 2 || !strings.Contains(errOut, "--data none keeps no store") {
		t.Errorf("users add --data none: exit %d\n%s", code, errOut)
	}
	code, _, errOut = runCLI(t, nil, "export", "--data", filepath.Join(t.TempDir(), "nothing"))
	if code != 1 || !strings.Contains(errOut, "no analytics store in") {
		t.Errorf("export of a directory without a store: exit %d\n%s", code, errOut)
	}
	// A database that does not answer is an error, not a gateway's
	// patience.
	code, _, errOut = runCLI(t, nil, "domains", "add", "x.example.org", "--org", "o", "--database", "postgres://nobody@127.0.0.1:1/none?connect_timeout=2")
	if code != 1 || !strings.Contains(errOut, "portico domains add:") {
		t.Errorf("domains add on a database that does not answer: exit %d\n%s", code, errOut)
	}
	for _, args := range [][]string{{"users"}, {"users", "remove"}, {"tokens", "list"}} {
		if code, _, errOut := runCLI(t, nil, args...); code != 2 || !strings.Contains(errOut, "Usage: portico "+args[0]+" COMMAND") {
			t.Errorf("portico %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
		}
	}
}

func TestHelpListsOperatorCommands(t *testing.T) {
	code, out, _ := runCLI(t, nil, "help")
	if code != 0 {
		t.Fatalf("help: exit %d", code)
	}
	for _, c := range []string{"users", "tokens", "domains", "import", "export"} {
		if !strings.Contains(out, "\n  "+c+" ") {
			t.Errorf("help does not list %s:\n%s", c, out)
		}
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"help", "users"}, []string{"add ", "link "}},
		{[]string{"help", "users", "add"}, []string{"-admin", "-link", "-data", "PORTICO_DATABASE", "-base-domain"}},
		{[]string{"help", "tokens", "create"}, []string{"-scope", "-expires", "-user"}},
		{[]string{"help", "domains", "add"}, []string{"-verified", "-org"}},
		{[]string{"help", "import"}, []string{"-manifest", "-add-domains", "-dry-run", "x-portico-name"}},
		{[]string{"help", "export"}, []string{"-o file", "-org"}},
	} {
		code, out, _ := runCLI(t, nil, tc.args...)
		if code != 0 {
			t.Errorf("portico %s: exit %d", strings.Join(tc.args, " "), code)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("portico %s does not mention %q:\n%s", strings.Join(tc.args, " "), w, out)
			}
		}
	}
}

func TestOrgs(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		s.must(password, "users", "add", "admin@example.org", "--admin")
		s.must(password, "users", "add", "dev@example.org")
		s.fails(2, "--owner is required", "", "orgs", "add", "acme")
		s.fails(2, "give the organization's name", "", "orgs", "add", "--owner", "dev@example.org")
		s.fails(2, "", "", "orgs", "add", "bad/name", "--owner", "dev@example.org")
		s.fails(1, "not found", "", "orgs", "add", "acme", "--owner", "nobody@example.org")

		out, _ := s.must("", "orgs", "add", "acme", "--owner", "dev@example.org", "--display-name", "Acme Inc.")
		if !strings.Contains(out, `added organization "acme", owned by dev@example.org`) {
			t.Errorf("orgs add said %q", out)
		}
		s.fails(1, `the name "acme" is taken`, "", "orgs", "add", "acme", "--owner", "admin@example.org")
		// The Owner can use it at once: a domain of the organization.
		s.must("", "domains", "add", "get.acme.example", "--org", "acme", "--verified")
		dev, err := s.service("").UserByEmail(t.Context(), "dev@example.org")
		if err != nil {
			t.Fatal(err)
		}
		orgs, err := s.service("").ListOrgs(t.Context(), control.As(dev), control.Page{})
		if err != nil || !slices.ContainsFunc(orgs, func(o control.OrgView) bool { return o.Name == "acme" && o.Role == control.RoleOwner }) {
			t.Errorf("the owner's organizations: %+v (%v), want acme with the role Owner", orgs, err)
		}

		out, _ = s.must("", "orgs", "list")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 4 || !strings.HasPrefix(lines[0], "NAME") {
			t.Fatalf("orgs list:\n%s\nwant a header and three organizations", out)
		}
		var names []string
		for _, l := range lines[1:] {
			names = append(names, strings.Fields(l)[0])
		}
		slices.Sort(names)
		if strings.Join(names, " ") != "acme dev user-admin" || !strings.Contains(out, "Acme Inc.") {
			t.Errorf("orgs list:\n%s\nwant acme (Acme Inc.), dev and user-admin", out)
		}
	})
}

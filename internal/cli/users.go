package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"portico/internal/control"
)

func runUsers(ctx context.Context, env *Env, args []string) int {
	return runGroup(ctx, env, "users", "Adds users to the store, and makes one-time sign-in links for them.", []command{
		{"add", "add a user with a password or a sign-in link", runUsersAdd},
		{"link", "make a one-time sign-in link for a user (who lost the password)", runUsersLink},
	}, args)
}

const usersAddUsage = `Usage: portico users add EMAIL [--admin] [--name NAME] [--link]

Adds a user, with a personal organization named after the address. The
password is read from standard input: typed twice, without echo, at a
terminal; otherwise the first line of standard input is the password.
There is no default password: empty input is refused, and so is a
password shorter than 10 characters.

With --link, no password is read and the user has none: a one-time
sign-in link is printed on standard output instead, and nothing else is.
Signed in with it, the user can set a password (PATCH /api/v1/me).

--admin makes the user a server administrator, who acts as an Owner of
every organization: the first user of a new installation needs it.

`

// defaultLinkTTL is how long a sign-in link works by default.
const defaultLinkTTL = 24 * time.Hour

func runUsersAdd(ctx context.Context, env *Env, args []string) int {
	c := newOperatorCmd(env, "portico users add", usersAddUsage+storeFlagsHelp)
	admin := c.fs.Bool("admin", false, "make the user a server administrator")
	name := c.fs.String("name", "", "the user's display `name`")
	link := c.fs.Bool("link", false, "give the user no password: print a one-time sign-in link")
	ttl := c.fs.Duration("link-ttl", defaultLinkTTL, "how long the sign-in link works")
	if code := c.parse(args, 1, "the user's e-mail address: portico users add EMAIL"); code >= 0 {
		return code
	}
	email, err := control.NormalizeEmail(c.args[0])
	if err != nil {
		return c.usageError("%v", err)
	}
	if err := control.CheckDisplayName(*name); err != nil {
		return c.usageError("--name: %v", err)
	}
	if *ttl <= 0 {
		return c.usageError("--link-ttl must be positive")
	}
	var password string
	if !*link {
		// Read before the store is opened: bad input leaves nothing
		// behind, not even a new store.
		if password, err = readPassword(env, email); err != nil {
			return c.fail(err)
		}
		if err := control.CheckPassword(password); err != nil {
			return c.fail(fmt.Errorf("the password %v", err))
		}
	}
	svc, closeStore, err := c.open(ctx, false)
	if err != nil {
		return c.fail(err)
	}
	defer closeStore()
	u, org, err := svc.CreateUser(ctx, control.Operator, control.NewUser{Email: email, Name: *name, Password: password, ServerAdmin: *admin})
	if err != nil {
		return c.fail(err)
	}
	what := "user"
	if u.ServerAdmin {
		what = "server administrator"
	}
	fmt.Fprintf(env.Stderr, "added %s %s, with the personal organization %q\n", what, u.Email, org.Name)
	if !*link {
		return exitOK
	}
	return printLink(ctx, c, svc, u.Email, *ttl)
}

const usersLinkUsage = `Usage: portico users link EMAIL [--link-ttl DURATION]

Prints a one-time sign-in link for a user on standard output, and nothing
else: for a user added with --link whose link expired, or one who lost
the password. Signed in with it, the user can set a new password
(PATCH /api/v1/me).

`

func runUsersLink(ctx context.Context, env *Env, args []string) int {
	c := newOperatorCmd(env, "portico users link", usersLinkUsage+storeFlagsHelp)
	ttl := c.fs.Duration("link-ttl", defaultLinkTTL, "how long the sign-in link works")
	if code := c.parse(args, 1, "the user's e-mail address: portico users link EMAIL"); code >= 0 {
		return code
	}
	if *ttl <= 0 {
		return c.usageError("--link-ttl must be positive")
	}
	svc, closeStore, err := c.open(ctx, false)
	if err != nil {
		return c.fail(err)
	}
	defer closeStore()
	return printLink(ctx, c, svc, c.args[0], *ttl)
}

// printLink makes a sign-in link and prints it on standard output, with
// how to use it on standard error.
func printLink(ctx context.Context, c *operatorCmd, svc *control.Service, email string, ttl time.Duration) int {
	secret, err := svc.NewSignInLink(ctx, control.Operator, email, ttl)
	if err != nil {
		return c.fail(err)
	}
	fmt.Fprintln(c.env.Stdout, secret)
	fmt.Fprintf(c.env.Stderr, `the sign-in link above works once, within %v: send it to the API as
  POST /api/v1/session {"link":"…"}
and the session it opens can set a password with PATCH /api/v1/me {"password":"…"}
`, ttl)
	return exitOK
}

// errNoPassword refuses empty input: a user is never given a default
// password.
var errNoPassword = errors.New(`no password on standard input: pipe one in (printf '%s\n' "$PASSWORD" | portico users add …), or pass --link for a one-time sign-in link`)

// readPassword reads a new password: at a terminal, typed twice without
// echo; otherwise the first line of standard input, without its line
// ending.
func readPassword(env *Env, email string) (string, error) {
	if f, ok := env.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return readTerminalPassword(f, env.Stderr, email)
	}
	if env.Stdin == nil {
		return "", errNoPassword
	}
	// One byte more than a password may have, and its line ending,
	// tells a long password from an allowed one.
	line, err := bufio.NewReader(io.LimitReader(env.Stdin, control.MaxPassword+3)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password from standard input: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", errNoPassword
	}
	return line, nil
}

// readTerminalPassword asks for the password twice at the terminal f,
// without echo.
func readTerminalPassword(f *os.File, prompt io.Writer, email string) (string, error) {
	read := func(label string) (string, error) {
		fmt.Fprint(prompt, label)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", fmt.Errorf("reading the password from the terminal: %w", err)
		}
		return string(b), nil
	}
	p, err := read("Password for " + email + ": ")
	if err != nil {
		return "", err
	}
	if p == "" {
		return "", errors.New("no password typed: type one, or pass --link for a one-time sign-in link")
	}
	again, err := read("The same password again: ")
	if err != nil {
		return "", err
	}
	if again != p {
		return "", errors.New("the two passwords differ: nothing was changed")
	}
	return p, nil
}

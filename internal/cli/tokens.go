package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"portico/internal/control"
)

func runTokens(ctx context.Context, env *Env, args []string) int {
	return runGroup(ctx, env, "tokens", "Creates API tokens for users, for scripts and the first calls to the API.", []command{
		{"create", "create a token and print it", runTokensCreate},
	}, args)
}

const tokensCreateUsage = `Usage: portico tokens create --user EMAIL --scope read|write [--expires DURATION] [--name NAME]

Creates an API token of a user and prints it on standard output, and
nothing else. It is shown this once: only its hash is kept. The token
acts as its user, with no more rights than the user has; a read token
only reads. Send it as "Authorization: Bearer TOKEN".

`

func runTokensCreate(ctx context.Context, env *Env, args []string) int {
	c := newOperatorCmd(env, "portico tokens create", tokensCreateUsage+storeFlagsHelp)
	email := c.fs.String("user", "", "the e-mail `address` of the token's user")
	scope := c.fs.String("scope", "", "what the token may do: read or write")
	expires := c.fs.String("expires", "", "how long the token works, such as 720h or 90d; never expires if not given")
	name := c.fs.String("name", "", "a `name` that says what the token is for")
	if code := c.parse(args, 0, ""); code >= 0 {
		return code
	}
	if *email == "" {
		return c.usageError("--user is required: the e-mail address of the token's user")
	}
	if *scope == "" {
		return c.usageError("--scope is required: read or write")
	}
	sc, err := control.ParseScope(*scope)
	if err != nil {
		return c.usageError("--scope: %v", err)
	}
	var ttl time.Duration
	if *expires != "" {
		if ttl, err = parseExpiry(*expires); err != nil {
			return c.usageError("--expires: %v", err)
		}
	}
	svc, closeStore, err := c.open(ctx, false)
	if err != nil {
		return c.fail(err)
	}
	defer closeStore()
	u, err := svc.UserByEmail(ctx, *email)
	if err != nil {
		return c.fail(err)
	}
	secret, tok, err := svc.CreateToken(ctx, control.As(u), control.NewToken{Name: *name, Scope: sc, TTL: ttl})
	if err != nil {
		return c.fail(err)
	}
	fmt.Fprintln(env.Stdout, secret)
	until := "never expires"
	if !tok.Expires.IsZero() {
		until = "expires " + tok.Expires.Format(time.RFC3339)
	}
	fmt.Fprintf(env.Stderr, "created %s token %s of %s (%s); it is shown only this once\n", tok.Scope, tok.ID, u.Email, until)
	return exitOK
}

// parseExpiry reads a token's lifetime: a Go duration (720h) or a number
// of days (90d).
func parseExpiry(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n > 100*365 {
			return 0, fmt.Errorf("%q: want a duration such as 720h or 90d", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q: want a duration such as 720h or 90d", s)
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q: must be positive (leave --expires out for a token that never expires)", s)
	}
	return d, nil
}

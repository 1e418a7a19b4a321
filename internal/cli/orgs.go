package cli

import (
	"context"
	"fmt"
	"text/tabwriter"

	"portico/internal/control"
)

func runOrgs(ctx context.Context, env *Env, args []string) int {
	return runGroup(ctx, env, "orgs", "Adds and lists organizations: every package, domain and collection belongs to one.", []command{
		{"add", "add an organization with its first Owner", runOrgsAdd},
		{"list", "list every organization", runOrgsList},
	}, args)
}

const orgsAddUsage = `Usage: portico orgs add NAME --owner EMAIL [--display-name TEXT]

Adds an organization, whose first Owner is the user with the address
EMAIL (an organization always has an Owner). Every user also has a
personal organization, made with the user.

`

func runOrgsAdd(ctx context.Context, env *Env, args []string) int {
	c := newOperatorCmd(env, "portico orgs add", orgsAddUsage+storeFlagsHelp)
	owner := c.fs.String("owner", "", "the e-mail `address` of the organization's first Owner")
	display := c.fs.String("display-name", "", "the organization's display `name`")
	if code := c.parse(args, 1, "the organization's name: portico orgs add NAME --owner EMAIL"); code >= 0 {
		return code
	}
	if *owner == "" {
		return c.usageError("--owner is required: the e-mail address of the organization's first Owner")
	}
	name := c.args[0]
	if err := control.CheckOrgName(name); err != nil {
		return c.usageError("%v", err)
	}
	svc, closeStore, err := c.open(ctx, false)
	if err != nil {
		return c.fail(err)
	}
	defer closeStore()
	u, err := svc.UserByEmail(ctx, *owner)
	if err != nil {
		return c.fail(err)
	}
	o, err := svc.CreateOrg(ctx, control.As(u), name, *display)
	if err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(env.Stdout, "added organization %q, owned by %s\n", o.Name, u.Email)
	if o.Domain != "" {
		fmt.Fprintf(env.Stdout, "its domain: %s\n", o.Domain)
	}
	return exitOK
}

const orgsListUsage = `Usage: portico orgs list

Lists every organization: its name, display name and creation time.

`

func runOrgsList(ctx context.Context, env *Env, args []string) int {
	c := newOperatorCmd(env, "portico orgs list", orgsListUsage+storeFlagsHelp)
	if code := c.parse(args, 0, ""); code >= 0 {
		return code
	}
	svc, closeStore, err := c.open(ctx, true)
	if err != nil {
		return c.fail(err)
	}
	defer closeStore()
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDISPLAY NAME\tCREATED")
	for pg := (control.Page{Limit: control.MaxLimit}); ; {
		os, err := svc.ListOrgs(ctx, control.Operator, pg)
		if err != nil {
			return c.fail(err)
		}
		for _, o := range os {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", o.Name, o.DisplayName, o.Created.UTC().Format("2006-01-02 15:04:05Z"))
		}
		if len(os) < pg.Limit {
			break
		}
		pg.After = os[len(os)-1].ID
	}
	if err := tw.Flush(); err != nil {
		return c.fail(err)
	}
	return exitOK
}

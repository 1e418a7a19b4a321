package cli

import (
	"context"
	"fmt"

	"portico/internal/control"
)

func runDomains(ctx context.Context, env *Env, args []string) int {
	return runGroup(ctx, env, "domains", "Adds domains to organizations: a package's rule serves a domain of its organization.", []command{
		{"add", "add a domain to an organization, verified or to verify", runDomainsAdd},
	}, args)
}

const domainsAddUsage = `Usage: portico domains add NAME --org ORG [--verified] [--https-only]

Adds a custom domain to an organization. With --verified the domain
routes at once and is never checked: the operator vouches for it.
Without, it is pending: the records to create are printed, and the
gateway verifies it once they exist (or at POST
/api/v1/domains/NAME/verify). With --https-only, the gateway redirects
every plain HTTP request to the domain to HTTPS.

`

func runDomainsAdd(ctx context.Context, env *Env, args []string) int {
	c := newOperatorCmd(env, "portico domains add", domainsAddUsage+storeFlagsHelp)
	org := c.fs.String("org", "", "the `organization` the domain belongs to")
	verified := c.fs.Bool("verified", false, "add the domain verified, without a DNS check")
	httpsOnly := c.fs.Bool("https-only", false, "redirect every plain HTTP request to the domain to HTTPS")
	if code := c.parse(args, 1, "the domain's name: portico domains add NAME --org ORG"); code >= 0 {
		return code
	}
	if *org == "" {
		return c.usageError("--org is required: the organization the domain belongs to")
	}
	name, err := control.CheckDomainName(c.args[0])
	if err != nil {
		return c.usageError("%v", err)
	}
	svc, closeStore, err := c.open(ctx, false)
	if err != nil {
		return c.fail(err)
	}
	defer closeStore()
	d, err := svc.AddDomain(ctx, control.Operator, *org, name, *verified, *httpsOnly)
	if err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(env.Stdout, "%s: %s, a domain of organization %q\n", d.Name, d.Status, d.Org)
	if d.HTTPSOnly {
		fmt.Fprintln(env.Stdout, "plain HTTP requests to it are redirected to HTTPS")
	}
	if len(d.Records) > 0 {
		fmt.Fprintln(env.Stdout, "create these DNS records; the gateway verifies the domain once they exist:")
		for _, r := range d.Records {
			fmt.Fprintf(env.Stdout, "  %s\t%s\t%s\n", r.Name, r.Type, r.Value)
		}
	}
	return exitOK
}

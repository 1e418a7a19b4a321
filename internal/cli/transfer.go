package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"portico/internal/app"
	"portico/internal/control"
	"portico/internal/manifest"
)

const importUsage = `Usage: portico import --manifest FILE --org ORG [--add-domains] [--dry-run]

Loads a manifest's rules into the store as packages of an organization:
all of them, or none if anything is wrong. The manifest is checked as
"portico check" checks it, then each rule as the API checks a new
package: its domain must be a verified domain of the organization, and
it must not answer what another rule of its domain answers. Each problem
is printed with its rule, as "portico check" prints them.

A package keeps its rule's package-id (a docker-v2 rule's rule-id) as its
id, so that its downloads go on counting under the same id; a rule
without one gets a new id. Its name is the rule's "x-portico-name" when
there is one (as "portico export" writes it), else its id.

With --add-domains, the domains the rules serve that no organization has
are added to the organization, verified: as "portico domains add
--verified" does, the operator vouches for them.

`

func runImport(ctx context.Context, env *Env, args []string) int {
	c := newOperatorCmd(env, "portico import", importUsage+storeFlagsHelp)
	path := c.fs.String("manifest", "", "the manifest `file` to import")
	org := c.fs.String("org", "", "the `organization` the packages belong to")
	addDomains := c.fs.Bool("add-domains", false, "add the domains that no organization has to the organization, verified")
	dryRun := c.fs.Bool("dry-run", false, "check everything, import nothing")
	if code := c.parse(args, 0, ""); code >= 0 {
		return code
	}
	if *path == "" {
		return c.usageError("--manifest is required: the manifest file to import")
	}
	if *org == "" {
		return c.usageError("--org is required: the organization the packages belong to")
	}
	svc, closeStore, err := c.open(ctx, false)
	if err != nil {
		return c.fail(err)
	}
	defer closeStore()
	res, err := app.ImportManifest(ctx, svc, *path, *org, app.ImportOptions{AddDomains: *addDomains, DryRun: *dryRun})
	if err != nil {
		problems := manifest.Errors(err)
		if len(problems) == 0 {
			return c.fail(err)
		}
		for _, p := range problems {
			fmt.Fprintln(env.Stderr, p)
		}
		fmt.Fprintf(env.Stderr, "%s: %d problem(s); nothing was imported\n", *path, len(problems))
		if errors.Is(err, control.ErrDomainMissing) {
			fmt.Fprintf(env.Stderr, "add the domains that no organization has with \"portico domains add NAME --org %s --verified\", or import with --add-domains\n", *org)
		}
		return exitFail
	}
	verb := "imported"
	if *dryRun {
		verb = "would import (dry run, nothing written)"
	}
	fmt.Fprintf(env.Stdout, "%s: %s %d package(s) into organization %q\n", *path, verb, len(res.Packages), res.Org)
	for _, d := range res.Domains {
		fmt.Fprintf(env.Stdout, "  domain %s added, verified\n", d)
	}
	return exitOK
}

const exportUsage = `Usage: portico export [--org ORG] [-o FILE]

Writes the store's packages as a manifest (all organizations', or one's)
that "portico check" accepts and "portico import" reads back into the
same packages: each rule carries its package's id as package-id (rule-id
for docker-v2), and its name as "x-portico-name" when that is not the
id. Rules are in the order the gateway routes them. Domains, members and
collections are not part of a manifest.

`

func runExportManifest(ctx context.Context, env *Env, args []string) int {
	c := newOperatorCmd(env, "portico export", exportUsage+storeFlagsHelp)
	org := c.fs.String("org", "", "only the packages of this `organization`")
	out := c.fs.String("o", "", "write to this `file` instead of standard output; it is replaced whole or not at all")
	if code := c.parse(args, 0, ""); code >= 0 {
		return code
	}
	svc, closeStore, err := c.open(ctx, true)
	if err != nil {
		return c.fail(err)
	}
	defer closeStore()
	data, n, err := app.ExportManifest(ctx, svc, *org)
	if err != nil {
		return c.fail(err)
	}
	if *out == "" {
		if _, err := env.Stdout.Write(data); err != nil {
			return c.fail(err)
		}
	} else if err := writeFileAtomic(*out, data); err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(env.Stderr, "exported %d package(s)\n", n)
	return exitOK
}

// writeFileAtomic replaces path with data, or leaves it as it was.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"portico/internal/config"
	"portico/internal/control"
	"portico/internal/manifest"
	"portico/internal/route"
	"portico/internal/store"
	"portico/internal/store/postgres"
)

// OpenService opens the store at loc for the operator's commands
// (portico users, tokens, domains, import, export) and returns the
// control plane's service over it, with the function that closes it.
// Unlike the gateway, a command needs its store: a database that does
// not answer is an error. opts.ReadOnly opens an existing store without
// creating or migrating it. A running gateway on the same store routes
// what the commands change within its --reload-interval (and at once on
// PostgreSQL).
func OpenService(ctx context.Context, loc config.StoreLocation, ctl config.Control, opts StoreOptions) (*control.Service, func(), error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var st store.Store
	var err error
	if loc.Database != "" && !opts.ReadOnly {
		// postgres.Open migrates, and fails if the server does not
		// answer.
		st, err = postgres.Open(ctx, postgres.Config{URL: loc.Database, MaxConns: 4, Logger: log})
	} else {
		st, err = OpenStore(ctx, loc, StoreOptions{ReadOnly: opts.ReadOnly, Logger: log})
	}
	if err != nil {
		return nil, nil, err
	}
	cs, ok := st.(control.Store)
	if !ok {
		st.Close()
		return nil, nil, fmt.Errorf("the %s store keeps no control plane", st.Describe())
	}
	svc := control.New(control.Config{
		Store: cs,
		Rules: &route.Checker{},
		Domains: control.DomainPolicy{
			Resolver:    newResolver(ctl.DNSResolver),
			CNAMETarget: ctl.CNAMETarget,
		},
		BaseDomain: ctl.BaseDomain,
		SessionTTL: ctl.SessionTTL,
		Logger:     log,
	})
	return svc, func() { st.Close() }, nil
}

// ImportOptions say how a manifest is imported.
type ImportOptions struct {
	// AddDomains adds the domains the rules serve that no organization
	// has, verified, to the organization.
	AddDomains bool
	// DryRun checks everything and writes nothing.
	DryRun bool
	Logger *slog.Logger
}

// ImportManifest loads the manifest at path into the store as packages
// of org, for the operator: all of them or, if anything is wrong, none.
// The manifest is read and compiled as "portico check" does, and each
// rule is then checked as the API checks a new package. Problems are
// *manifest.Error values (manifest.Errors lists them); those that
// adding a domain would solve wrap control.ErrDomainMissing.
func ImportManifest(ctx context.Context, svc *control.Service, path, org string, opts ImportOptions) (control.ImportResult, error) {
	m, err := manifest.Load(path)
	if err != nil {
		return control.ImportResult{}, err
	}
	if err := compileManifest(m, opts.Logger); err != nil {
		return control.ImportResult{}, fmt.Errorf("%s: %w", path, err)
	}
	im := control.Import{File: path, Org: org, AddDomains: opts.AddDomains, DryRun: opts.DryRun}
	var problems []error
	for _, r := range m.Rules {
		c := r.Common()
		var name string
		if raw, ok := c.Extensions[control.NameExtension]; ok {
			if err := json.Unmarshal(raw, &name); err != nil || name == "" {
				problems = append(problems, &manifest.Error{File: path, Rule: c.Index, Type: r.Type(), Field: control.NameExtension,
					Err: errors.New("must be a package name in a string, such as \"rocket-skates\"")})
				continue
			}
			// The name is the package's, not part of its rule.
			delete(c.Extensions, control.NameExtension)
		}
		data, err := manifest.EncodeRule(r)
		if err != nil {
			return control.ImportResult{}, fmt.Errorf("%s: rules[%d]: %w", path, c.Index, err)
		}
		im.Rules = append(im.Rules, control.ImportRule{Index: c.Index, Rule: data, Name: name})
	}
	if len(problems) > 0 {
		return control.ImportResult{}, errors.Join(problems...)
	}
	return svc.ImportPackages(ctx, control.Operator, im)
}

// compileManifest compiles m with the handlers serve would build, to
// catch what only the routing table can see.
func compileManifest(m *manifest.Manifest, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts, err := RuleOptions(config.Default(), log)
	if err != nil {
		return err
	}
	defer opts.NPM.Cache.Close()
	_, err = route.Compile(m, opts)
	return err
}

// ExportManifest writes the store's packages (of one organization when
// org is not "") as a manifest, in the order the gateway routes them,
// and returns it with the number of packages. Each rule carries its
// package's id as package-id (rule-id for docker-v2), and its name as
// control.NameExtension unless the name is the one importing would give
// it, so that importing the manifest again makes the same packages.
func ExportManifest(ctx context.Context, svc *control.Service, org string) ([]byte, int, error) {
	pkgs, err := svc.ExportPackages(ctx, control.Operator, org)
	if err != nil {
		return nil, 0, err
	}
	m := &manifest.Manifest{Rules: make([]manifest.Rule, 0, len(pkgs))}
	for i, pkg := range pkgs {
		r, err := manifest.DecodeRule("package "+pkg.ID, pkg.Rule, pkg.ID)
		if err != nil {
			return nil, 0, fmt.Errorf("stored rule of package %s: %w", pkg.ID, err)
		}
		c := r.Common()
		c.Index = i
		// A rule sent to the API may hold the field itself: the
		// package's name is what counts.
		delete(c.Extensions, control.NameExtension)
		if pkg.Name != control.ImportName(pkg.ID, r.Type(), pkg.Host) {
			name, err := json.Marshal(pkg.Name)
			if err != nil {
				return nil, 0, err
			}
			if c.Extensions == nil {
				c.Extensions = map[string]json.RawMessage{}
			}
			c.Extensions[control.NameExtension] = name
		}
		m.Rules = append(m.Rules, r)
	}
	data, err := manifest.Encode(m)
	if err != nil {
		return nil, 0, err
	}
	// What is written must read back: a manifest that does not would
	// be a bug here, and is better refused than written.
	if _, err := manifest.Decode("export", data); err != nil {
		return nil, 0, fmt.Errorf("the exported manifest does not read back: %w", err)
	}
	return data, len(pkgs), nil
}

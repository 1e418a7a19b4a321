package storetest

import (
	"context"
	"fmt"
	"time"

	"portico/internal/control"
	"portico/internal/manifest"
)

// SeedPackages stores the rules of a manifest as the packages of one new
// organization named org, each with its rule's package id as its id and
// name, on domains the organization owns, verified: the store then routes
// exactly what the manifest does. It writes straight through the store's
// transactions, in batches, for benchmarks that need many packages
// quickly; the service's checks (shadowing, placement) are not run.
func SeedPackages(ctx context.Context, st control.Store, org string, rules []manifest.Rule) error {
	now := time.Now().UTC()
	o := control.Org{ID: control.NewID(), Name: org, Created: now}
	hosts := map[string]bool{}
	err := st.Update(ctx, func(tx control.Tx) error {
		if err := tx.CreateOrg(ctx, o); err != nil {
			return err
		}
		for _, r := range rules {
			h := r.Common().Host
			if hosts[h] {
				continue
			}
			hosts[h] = true
			if err := tx.CreateDomain(ctx, control.Domain{Name: h, OrgID: o.ID, Status: control.DomainVerified, Verified: now, Created: now}); err != nil {
				return err
			}
		}
		tx.RoutingChanged()
		return nil
	})
	if err != nil {
		return fmt.Errorf("seed organization %s and its domains: %w", org, err)
	}
	// Batches keep each transaction short on a database that other
	// replicas or tests use.
	const batch = 5000
	for start := 0; start < len(rules); start += batch {
		part := rules[start:min(start+batch, len(rules))]
		err := st.Update(ctx, func(tx control.Tx) error {
			for _, r := range part {
				id := manifest.PackageID(r)
				data, err := manifest.EncodeRuleWithoutID(r)
				if err != nil {
					return err
				}
				p := control.Package{ID: id, OrgID: o.ID, Name: id, Host: r.Common().Host, Rule: data,
					Source: control.SourceAPI, Created: now, Updated: now}
				if err := tx.CreatePackage(ctx, p); err != nil {
					return err
				}
			}
			tx.RoutingChanged()
			return nil
		})
		if err != nil {
			return fmt.Errorf("seed packages %d to %d: %w", start, start+len(part)-1, err)
		}
	}
	return nil
}

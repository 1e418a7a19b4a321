package app

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"portico/internal/badge/badgehttp"
	"portico/internal/control"
	"portico/internal/manifest"
	"portico/internal/stats"
	"portico/internal/store"
)

// companyWindow is the period a company badge counts organizations over.
const companyWindow = 30 * 24 * time.Hour

// badgeCounts answers badges from the control plane's packages and the
// analytics rollups: the same numbers package statistics give.
type badgeCounts struct {
	svc   *control.Service
	stats *stats.Stats
	now   func() time.Time
}

var _ badgehttp.Counts = (*badgeCounts)(nil)

// Resolve implements badgehttp.Counts.
func (b *badgeCounts) Resolve(ctx context.Context, owner, name, packageType string) (string, error) {
	pkg, err := b.svc.PublishedPackage(ctx, owner, name)
	if err != nil {
		return "", notFound(err)
	}
	if packageType != "" && packageType != badgeType(pkg.Rule) {
		return "", badgehttp.ErrNotFound
	}
	return pkg.ID, nil
}

// Installs implements badgehttp.Counts.
func (b *badgeCounts) Installs(ctx context.Context, id string) (int64, error) {
	if err := b.exists(ctx, id); err != nil {
		return 0, err
	}
	return b.stats.Total(ctx, stats.Query{Filter: store.Filter{Package: id}, Measure: store.Downloads})
}

// Companies implements badgehttp.Counts.
func (b *badgeCounts) Companies(ctx context.Context, id string) (int64, error) {
	if err := b.exists(ctx, id); err != nil {
		return 0, err
	}
	now := b.now()
	q := stats.Query{Filter: store.Filter{From: now.Add(-companyWindow), To: now, Package: id}, Measure: store.Downloads}
	orgs, err := b.stats.Breakdown(ctx, q, store.DimOrg, 0)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, o := range orgs {
		// Downloads from addresses of no known network have no
		// organization: they are no company.
		if o.Key != "" {
			n++
		}
	}
	return n, nil
}

// exists finds a package of the store or of the manifest by id.
func (b *badgeCounts) exists(ctx context.Context, id string) error {
	_, err := b.svc.GetPackage(ctx, control.Operator, id)
	return notFound(err)
}

// notFound turns the service's "not found" into the badges' own.
func notFound(err error) error {
	if control.KindOf(err) == control.KindNotFound {
		return errors.Join(badgehttp.ErrNotFound, err)
	}
	return err
}

// badgeType is the package-type a badge URL gives for a package of rule:
// docker, python, npm or file, or the rule's own type for the others.
func badgeType(rule json.RawMessage) string {
	var r struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(rule, &r) != nil {
		return ""
	}
	switch r.Type {
	case manifest.TypeDockerV1, manifest.TypeDockerV2:
		return "docker"
	case manifest.TypePythonV1, manifest.TypePythonIndexV1:
		return "python"
	case manifest.TypeNPMV1:
		return "npm"
	case manifest.TypeFileV1, manifest.TypeFileV2, manifest.TypeCatchAllV1:
		return "file"
	}
	return r.Type
}

package store

import "fmt"

// IsColumn reports whether the dimension is a column of every rollup row
// (package, artifact, kind, source), as opposed to having rows of its own
// (RowDims).
func (d Dim) IsColumn() bool {
	return d == DimPackage || d == DimArtifact || d == DimKind || d == DimSource
}

// A Plan says how to answer an aggregate query from the rollups.
type Plan struct {
	// Dim selects the rows to sum: "" for the total rows, else the rows
	// of one RowDims dimension.
	Dim string
	// Value, when set, keeps only the rows of Dim with this value.
	Value *string
	// Columns are conditions on columns of every row.
	Columns []Cond
	// Group is what to group by: "value", the name of a column, or ""
	// for no dimension.
	Group string
	// AcrossPackages says that the query neither restricts nor groups by
	// a column: closed days can be read from the daily rollup of all
	// packages.
	AcrossPackages bool
}

// PlanQuery plans q. Every row of the rollups counts an event once for
// one dimension, so a query can restrict or group by the columns freely,
// and by one other dimension: a breakdown by version of the downloads
// from one country, say, would need rows that count versions and
// countries together, which the rollups do not keep. Such queries are
// ErrUnsupported.
func PlanQuery(q Query) (Plan, error) {
	var p Plan
	var row *Cond
	for _, c := range q.Conds() {
		switch {
		case c.Dim.IsColumn():
			p.Columns = append(p.Columns, c)
		case c.Dim == DimNone || c.Dim >= numDims:
			return p, fmt.Errorf("condition on an unknown dimension: %w", ErrUnsupported)
		case row == nil:
			row = &c
		case row.Dim != c.Dim || row.Value != c.Value:
			return p, fmt.Errorf("conditions on both %v and %v: %w", row.Dim, c.Dim, ErrUnsupported)
		}
	}
	switch {
	case q.By == DimNone:
	case q.By.IsColumn():
		p.Group = q.By.Column()
	case q.By >= numDims:
		return p, fmt.Errorf("breakdown by an unknown dimension: %w", ErrUnsupported)
	default:
		if row != nil && row.Dim != q.By {
			return p, fmt.Errorf("breakdown by %v of events with %v %q: %w", q.By, row.Dim, row.Value, ErrUnsupported)
		}
		p.Dim, p.Group = q.By.String(), "value"
	}
	if row != nil {
		p.Dim = row.Dim.String()
		v := row.Value
		p.Value = &v
	}
	p.AcrossPackages = !q.By.IsColumn() && len(p.Columns) == 0
	return p, nil
}

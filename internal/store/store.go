// Package store defines what Portico's analytics stores do, independently
// of the database: appending events, the rollups kept from them, the
// queries the API, the dashboard and "portico stats" run, and export.
// Packages store/sqlite (embedded, the default) and store/postgres
// (shared by many replicas) implement it; store/storetest checks that both
// behave the same.
//
// # What is stored
//
// Every event is kept raw (its JSON, by id, for export) for the retention
// period, and counted into rollups that are kept for good: per hour and
// per day, by package, artifact, kind, version, client, OS, country,
// organization, source and bot. Dashboards read the rollups only, so
// their cost does not grow with the number of events.
//
// Appending is idempotent: an event whose id is already stored is
// skipped, and counts nothing. That is what makes replaying a spool after
// a crash safe.
//
// Docker pulls are counted as Docker Hub counts them: a GET of an image
// index and the GET of one of its manifests by the same client are one
// pull (see FoldPulls).
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"portico/internal/event"
)

// Errors shared by the stores.
var (
	// ErrNotFound means that the thing asked for does not exist. Each
	// backend maps its driver's "no rows" to it.
	ErrNotFound = errors.New("not found")
	// ErrConflict means that a write would break a uniqueness rule: a
	// name, a domain or a key that is already taken. Each backend maps
	// its driver's unique violations to it.
	ErrConflict = errors.New("conflict")
	// ErrUnsupported is returned for a query a store cannot answer.
	ErrUnsupported = errors.New("query not supported")
	// ErrSchemaTooNew means the database was migrated by a newer Portico.
	ErrSchemaTooNew = errors.New("database schema is newer than this portico")
	// ErrBadCursor is returned for an export cursor that this store did not
	// make.
	ErrBadCursor = errors.New("malformed export cursor")
)

// CheckSchema tells whether a database at schema version current can be
// read by a portico that knows known migrations without migrating it
// ("portico stats" opens stores read-only). desc names the database.
func CheckSchema(desc string, current, known int) error {
	switch {
	case current > known:
		return fmt.Errorf("open store %s: at version %d, this portico knows %d: %w", desc, current, known, ErrSchemaTooNew)
	case current < known:
		return fmt.Errorf("open store %s: at version %d; portico serve upgrades it to %d", desc, current, known)
	}
	return nil
}

// An Appender records batches of events. Append is atomic: either the
// whole batch is stored and counted, or nothing is. Events whose id is
// already stored are skipped.
type Appender interface {
	Append(ctx context.Context, batch []event.Event) error
}

// A Reader answers analytics queries from the rollups.
type Reader interface {
	// Aggregate sums the measure over the filter, by time step and/or by
	// one dimension. Rows come sorted by bucket, then by value
	// (descending), then by key.
	Aggregate(ctx context.Context, q Query) ([]Row, error)
	// Uniques counts unique downloaders per day (Step must be StepDay or
	// StepNone, which sums the days). Only Package, Artifact and Kind of
	// the filter apply; bots are never counted.
	Uniques(ctx context.Context, f Filter, step Step) ([]Row, error)
}

// An Exporter streams raw events.
type Exporter interface {
	// Export calls fn for the events stored after the cursor q.After, in
	// the order they were stored, and returns the cursor to resume from.
	// Delivery is at least once: a resumed export may repeat some events
	// near the cursor (consumers deduplicate by id), but never skips one.
	Export(ctx context.Context, q ExportQuery, fn func(ExportRow) error) (next string, err error)
}

// Store is a complete analytics store.
type Store interface {
	Appender
	Reader
	Exporter
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Maintain applies retention: it drops raw events older than the
	// store's retention and state that is no longer needed. The gateway
	// calls it periodically; it is safe from several replicas at once.
	Maintain(ctx context.Context, now time.Time) error
	// Describe says what the store is, for logs and /readyz
	// ("sqlite /var/lib/portico/portico.db").
	Describe() string
	Close() error
}

// A SaltStore shares the daily salt of downloader hashes among the
// replicas of a gateway (see package enrich).
type SaltStore interface {
	// Salt returns the salt of the UTC day that starts at day, creating
	// it if this is the first request for it. A day that ended more than
	// SaltGrace ago has no salt any more: the result is ErrNoSalt.
	Salt(ctx context.Context, day time.Time) ([]byte, error)
}

// ErrNoSalt is returned by a SaltStore for a day whose salt is gone.
var ErrNoSalt = errors.New("no salt for that day")

// SaltSize is the length of a daily salt in bytes.
const SaltSize = 32

// SaltGrace is how long a day's salt outlives the day, for the events of
// its last seconds that are still being enriched.
const SaltGrace = 10 * time.Minute

// Measure says what a query counts.
type Measure uint8

const (
	// Downloads counts events that are downloads by their kind's
	// definition (event.Event.Download), docker pulls folded.
	Downloads Measure = iota
	// Requests counts every recorded event.
	Requests
)

func (m Measure) String() string {
	if m == Requests {
		return "requests"
	}
	return "downloads"
}

// Step is the time resolution of a query.
type Step uint8

// The steps the stores answer. Weeks and months are sums of days, made by
// package stats.
const (
	StepNone Step = iota
	StepHour
	StepDay
)

// Bots says how a query treats events from robots.
type Bots uint8

// By default, queries leave robots out.
const (
	BotsExclude Bots = iota
	BotsInclude
	BotsOnly
)

// ParseBots reads "exclude", "include" or "only".
func ParseBots(s string) (Bots, error) {
	switch s {
	case "exclude", "":
		return BotsExclude, nil
	case "include":
		return BotsInclude, nil
	case "only":
		return BotsOnly, nil
	}
	return 0, fmt.Errorf("bots %q: want exclude, include or only", s)
}

// Dim is a dimension of the rollups.
type Dim uint8

// The dimensions.
const (
	DimNone Dim = iota
	DimPackage
	DimArtifact
	DimKind
	DimVersion
	DimClient
	DimOS
	DimCountry
	DimOrg
	DimSource
	numDims
)

var dimNames = [numDims]string{"", "package", "artifact", "kind", "version", "client", "os", "country", "org", "source"}

func (d Dim) String() string {
	if d < numDims {
		return dimNames[d]
	}
	return "unknown"
}

// Column is the name of the dimension's column in both stores' rollups.
func (d Dim) Column() string { return d.String() }

// Dims lists the dimensions that can be grouped and filtered by.
func Dims() []Dim {
	return []Dim{DimPackage, DimArtifact, DimKind, DimVersion, DimClient, DimOS, DimCountry, DimOrg, DimSource}
}

// ParseDim returns the dimension named s.
func ParseDim(s string) (Dim, error) {
	for i, name := range dimNames {
		if name == s && Dim(i) != DimNone {
			return Dim(i), nil
		}
	}
	return DimNone, fmt.Errorf("dimension %q: want one of package, artifact, kind, version, client, os, country, org, source", s)
}

// A Cond restricts a query to rows whose dimension has a value ("" matches
// rows where the dimension is unknown).
type Cond struct {
	Dim   Dim
	Value string
}

// Filter selects events.
type Filter struct {
	// From and To bound event time, [From, To). The rollups resolve
	// hours, so both are rounded down to the hour. A zero To means now.
	From, To time.Time
	// Package, Artifact and Kind restrict the query when set.
	Package  string
	Artifact string
	Kind     event.Kind
	Bots     Bots
	Where    []Cond
}

// Conds returns the filter's conditions, Package, Artifact and Kind
// included, in one list.
func (f Filter) Conds() []Cond {
	conds := make([]Cond, 0, len(f.Where)+3)
	if f.Package != "" {
		conds = append(conds, Cond{DimPackage, f.Package})
	}
	if f.Artifact != "" {
		conds = append(conds, Cond{DimArtifact, f.Artifact})
	}
	if f.Kind != event.KindNone {
		conds = append(conds, Cond{DimKind, f.Kind.String()})
	}
	return append(conds, f.Where...)
}

// Query is an aggregate query.
type Query struct {
	Filter
	Measure Measure
	Step    Step
	By      Dim
	// Limit keeps the Limit largest rows (of each bucket, when Step is
	// set); 0 keeps all.
	Limit int
}

// A Row is one result of a query.
type Row struct {
	Bucket time.Time // start of the hour or day; zero without a step
	Key    string    // the value of the By dimension; "" without one
	Value  int64
}

// ExportQuery selects events to export.
type ExportQuery struct {
	// After is the cursor returned by the previous call; "" starts at
	// the beginning.
	After string
	// From and To bound event time when set.
	From, To time.Time
	// Package restricts the export to one package.
	Package string
	// Limit bounds the rows of one call; 0 means all.
	Limit int
}

// An ExportRow is one stored event.
type ExportRow struct {
	ID   event.ID
	Data []byte // the event's JSON, as written on the event stream
}

// Hour returns t rounded down to the hour, in UTC.
func Hour(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

// Day returns the start of t's UTC day.
func Day(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }

// Span is a filter's time range resolved for the rollups: whole hours at
// the ends, whole days in the middle.
type Span struct {
	From, To time.Time // hour-aligned
	// DayFrom and DayTo are the whole days within [From, To); when
	// DayFrom == DayTo there are none.
	DayFrom, DayTo time.Time
}

// Resolve aligns f's range to the rollups: From and To are rounded down
// to the hour (a zero To is the end of the current hour), and the whole
// days inside are found so that they can be read from the daily rollup.
// Before hoursFrom the rollups keep days only (see HourRetention): a range
// that starts or ends in such a day is widened to the whole day.
func (f Filter) Resolve(now, hoursFrom time.Time) Span {
	to := f.To
	if to.IsZero() {
		to = now.Add(time.Hour)
	}
	s := Span{From: Hour(f.From), To: Hour(to)}
	if s.From.Before(hoursFrom) {
		s.From = Day(s.From)
	}
	if s.To.Before(hoursFrom) && !Day(s.To).Equal(s.To) {
		s.To = Day(s.To).Add(24 * time.Hour)
	}
	if s.To.Before(s.From) {
		s.To = s.From
	}
	s.DayFrom = Day(s.From)
	if s.DayFrom.Before(s.From) {
		s.DayFrom = s.DayFrom.Add(24 * time.Hour)
	}
	s.DayTo = Day(s.To)
	if s.DayTo.Before(s.DayFrom) {
		s.DayTo = s.DayFrom
	}
	return s
}

// DimNames are the values of the dim column of the rollups: "" for the
// total rows and the RowDims.
var DimNames = []string{"", "version", "client", "os", "country", "org"}

// HourRetention is how long the hourly rollup keeps its rows once their
// day is closed. Older days are kept by the daily rollup only: hourly
// series do not reach back further, and longer ranges resolve days.
const HourRetention = 35 * 24 * time.Hour

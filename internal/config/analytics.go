package config

import (
	"flag"
	"fmt"
	"net/url"
	"time"
)

// StoreLocation says where the analytics store is: the embedded store in
// a data directory, or a shared PostgreSQL database.
type StoreLocation struct {
	// Data is the data directory: the embedded store's database and the
	// event spool. "none" keeps no store and no spool.
	Data string
	// Database is a postgres:// URL; when set, events are stored there
	// and Data holds only the spool.
	Database string
}

// NoStore is the value of --data that turns the store off.
const NoStore = "none"

// Analytics holds the settings of the event store and of enrichment.
type Analytics struct {
	StoreLocation
	GeoIPDB       string        // MaxMind-format country or city database
	ASNDB         string        // MaxMind-format ASN database
	FlushInterval time.Duration // how often spooled events are synced to disk
	RetentionDays int           // days raw events are kept; 0 keeps them
	// ReadyRequiresStore makes /readyz fail while the store is
	// unreachable. Off by default: downloads do not depend on the store,
	// events wait in the spool, and a database outage should not take
	// every replica out of its load balancer.
	ReadyRequiresStore bool
}

// DefaultAnalytics returns the analytics settings used when nothing is
// set.
func DefaultAnalytics() Analytics {
	return Analytics{
		StoreLocation: StoreLocation{Data: "./portico-data"},
		FlushInterval: time.Second,
		RetentionDays: 90,
	}
}

func (l *StoreLocation) settings() []setting {
	return []setting{
		{"data", "`directory` of the embedded analytics store (SQLite) and of the event spool; \"none\" stores no events", &l.Data},
		{"database", "PostgreSQL `URL` (postgres://…) of an analytics store shared by replicas; the spool stays under --data", &l.Database},
	}
}

func (a *Analytics) settings() []setting {
	return append(a.StoreLocation.settings(),
		setting{"geoip-db", "MaxMind-format country or city database `file` (GeoLite2/GeoIP2) for the country and region of events", &a.GeoIPDB},
		setting{"asn-db", "MaxMind-format ASN database `file` (GeoLite2-ASN) for the network and organization of events", &a.ASNDB},
		setting{"event-flush-interval", "how often spooled events are synced to disk; a machine crash loses at most this much", &a.FlushInterval},
		setting{"retention-days", "days raw events are kept for export; 0 keeps them (counts are kept regardless)", &a.RetentionDays},
		setting{"ready-requires-store", "make /readyz fail (503) while the analytics store is unreachable; by default the gateway stays ready and spools events", &a.ReadyRequiresStore},
	)
}

func (l StoreLocation) validate(add func(string, ...any)) {
	if l.Data == "" {
		add("--data must name a directory, or be %q", NoStore)
	}
	if l.Database != "" {
		u, err := url.Parse(l.Database)
		switch {
		case err != nil:
			// The error would repeat the URL, password included.
			add("--database is not a valid URL")
		case u.Scheme != "postgres" && u.Scheme != "postgresql":
			add("--database must be a postgres:// URL, not %s://", u.Scheme)
		}
	}
}

func (a Analytics) validate(add func(string, ...any)) {
	a.StoreLocation.validate(add)
	if a.Database != "" && a.Data == NoStore {
		add("--database needs --data for its spool; --data %s keeps no spool", NoStore)
	}
	if a.FlushInterval <= 0 || a.FlushInterval > time.Minute {
		add("--event-flush-interval must be between 1ms and 1m")
	}
	if a.RetentionDays < 0 {
		add("--retention-days must not be negative")
	}
}

// Retention returns the raw event retention as a duration; 0 means
// forever.
func (a Analytics) Retention() time.Duration { return time.Duration(a.RetentionDays) * 24 * time.Hour }

// LoadStoreLocation fills l from the environment and args, for commands
// that only read the store ("portico stats").
func (l *StoreLocation) Load(fs *flag.FlagSet, args []string, lookup func(string) (string, bool)) error {
	if err := loadSettings(fs, args, lookup, l.settings()); err != nil {
		return err
	}
	var errs []string
	l.validate(func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) })
	if len(errs) > 0 {
		return fmt.Errorf("%s", errs[0])
	}
	return nil
}

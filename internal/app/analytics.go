package app

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"portico/internal/config"
	"portico/internal/enrich"
	"portico/internal/geoip"
	"portico/internal/pipeline"
	"portico/internal/spool"
	"portico/internal/store"
)

// analytics is the part of the gateway that turns events into stored
// analytics: enrichment, the store, and the spool in front of it.
type analytics struct {
	log      *slog.Logger
	geo      *geoip.DB
	enricher *enrich.Enricher
	store    store.Store // nil with --data none
	spool    *spool.Spool
	linger   time.Duration
	// readyRequiresStore: /readyz fails while the store is unreachable.
	readyRequiresStore bool

	stopMaintain context.CancelFunc
	maintainDone chan struct{}
	closeOnce    sync.Once
}

// readyPingTimeout bounds the store check of /readyz with
// --ready-requires-store.
const readyPingTimeout = 2 * time.Second

// maintainEvery is how often retention runs.
const maintainEvery = time.Hour

// openAnalytics opens the geo databases, the store and the spool. A
// PostgreSQL store that cannot be reached does not stop the gateway:
// events wait in the spool until it answers.
func openAnalytics(ctx context.Context, cfg config.Analytics, log *slog.Logger, tracer trace.Tracer) (*analytics, error) {
	a := &analytics{log: log, linger: min(50*time.Millisecond, cfg.FlushInterval), readyRequiresStore: cfg.ReadyRequiresStore}
	geo, err := geoip.Open(cfg.GeoIPDB, cfg.ASNDB)
	if err != nil {
		return nil, err
	}
	a.geo = geo
	var salts store.SaltStore
	if cfg.Data != config.NoStore {
		st, err := OpenStore(ctx, cfg.StoreLocation, StoreOptions{Retention: cfg.Retention(), Logger: log})
		if err != nil {
			a.close()
			return nil, err
		}
		a.store = st
		salts, _ = st.(store.SaltStore) // PostgreSQL shares the daily salt among replicas
		sp, err := spool.Open(spool.Config{Dir: filepath.Join(cfg.Data, "spool"), Store: a.store, SyncInterval: cfg.FlushInterval, Logger: log, Tracer: tracer})
		if err != nil {
			a.close()
			return nil, err
		}
		a.spool = sp
		log.Info("analytics store", "store", a.store.Describe(), "spool", filepath.Join(cfg.Data, "spool"))
		mctx, cancel := context.WithCancel(context.Background())
		a.stopMaintain, a.maintainDone = cancel, make(chan struct{})
		go a.maintain(mctx)
	}
	if geo.Enabled() {
		log.Info("enrichment from GeoIP databases", "geoip_db", cfg.GeoIPDB, "asn_db", cfg.ASNDB)
	}
	a.enricher = enrich.New(enrich.Config{GeoIP: geo, Salts: salts, Logger: log})
	return a, nil
}

// maintain applies retention now and every maintainEvery.
func (a *analytics) maintain(ctx context.Context) {
	defer close(a.maintainDone)
	t := time.NewTicker(maintainEvery)
	defer t.Stop()
	for {
		mctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		if err := a.store.Maintain(mctx, time.Now()); err != nil && ctx.Err() == nil {
			a.log.Error("analytics store maintenance", "err", err)
		}
		cancel()
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// sinks returns the pipeline sinks of the analytics side.
func (a *analytics) sinks() []pipeline.Sink {
	if a.spool == nil {
		return nil
	}
	return []pipeline.Sink{a.spool}
}

// collectors returns the metrics of the spool and the store.
func (a *analytics) collectors() []prometheus.Collector {
	if a.spool == nil {
		return nil
	}
	return a.spool.Collectors()
}

// check reports the store on /readyz. By default an unreachable store
// does not make the gateway unready: downloads do not depend on it, and
// events wait in the spool. --ready-requires-store makes it.
func (a *analytics) check() (bool, string) {
	if a.spool == nil {
		return true, "analytics store: none (--data none)"
	}
	st := a.spool.Stats()
	var b strings.Builder
	fmt.Fprintf(&b, "analytics store: %s", a.store.Describe())
	if st.StoreUp {
		b.WriteString(", up")
	} else {
		fmt.Fprintf(&b, ", unreachable (%s)", st.LastError)
	}
	if st.PendingBytes > 0 {
		fmt.Fprintf(&b, "; %d bytes of events spooled", st.PendingBytes)
	}
	if !a.readyRequiresStore {
		return true, b.String()
	}
	// The spool learns that the store is gone only when an append fails,
	// which can take its whole timeout on a dead connection: readiness
	// asks the store itself.
	ctx, cancel := context.WithTimeout(context.Background(), readyPingTimeout)
	defer cancel()
	if err := a.store.Ping(ctx); err != nil {
		fmt.Fprintf(&b, "; not ready: the store does not answer (%v)", err)
		return false, b.String()
	}
	return true, b.String()
}

// close releases the store and databases. The pipeline must be closed
// first: it closes the spool, which hands what it can to the store.
func (a *analytics) close() {
	a.closeOnce.Do(func() {
		if a.stopMaintain != nil {
			a.stopMaintain()
			<-a.maintainDone
		}
		if a.store != nil {
			if err := a.store.Close(); err != nil {
				a.log.Error("closing the analytics store", "err", err)
			}
		}
		_ = a.geo.Close()
	})
}

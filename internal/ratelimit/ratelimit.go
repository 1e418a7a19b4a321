// Package ratelimit limits the requests of each client address with a
// token bucket (golang.org/x/time/rate), and answers requests over the
// limit with 429 Too Many Requests and a Retry-After.
//
// The client address is the one package clientip believes: the peer, or
// what trusted proxies forwarded. IPv6 clients are limited per /64, the
// block one subscriber usually holds, so that cycling through addresses
// of one's own block does not multiply one's rate. Addresses are kept in
// memory only, in a table of bounded size: when it is full, the clients
// seen least recently are forgotten first, and come back with a full
// bucket. Nothing here writes an address anywhere: not to a log, not to
// a metric.
package ratelimit

import (
	"encoding/binary"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"portico/internal/clientip"
	"portico/internal/event"
)

// DefaultMaxClients is the number of client addresses tracked when
// Config.MaxClients is 0.
const DefaultMaxClients = 65536

// shardCount spreads the table over independent locks, so that requests
// of different clients rarely wait for each other.
const shardCount = 64

// Config configures a Limiter.
type Config struct {
	// Rate is the sustained requests per second allowed to one client.
	Rate float64
	// Burst is how many requests a client may send at once after being
	// idle; 0 means the rate rounded up, at least 1.
	Burst int
	// MaxClients bounds the addresses tracked; 0 means
	// DefaultMaxClients.
	MaxClients int
	// Trusted says whose forwarded client addresses are believed.
	Trusted *clientip.Trusted
}

// A Limiter limits requests per client address. It is safe for
// concurrent use.
type Limiter struct {
	limit   rate.Limit
	burst   int
	trusted *clientip.Trusted
	shards  [shardCount]shard
	limited atomic.Uint64
}

// shard holds the buckets of some clients in two generations: cur takes
// new and returning clients; when it is full it becomes prev and the
// old prev is dropped. A client is forgotten once it has not been seen
// for two generations: an approximation of least recently used that
// costs one map lookup or two.
type shard struct {
	mu        sync.Mutex
	cur, prev map[netip.Addr]*rate.Limiter
	half      int
}

// New returns a limiter for cfg, which must have a positive Rate.
func New(cfg Config) *Limiter {
	if cfg.Burst <= 0 {
		cfg.Burst = max(1, int(math.Ceil(cfg.Rate)))
	}
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = DefaultMaxClients
	}
	if cfg.Trusted == nil {
		cfg.Trusted = &clientip.Trusted{}
	}
	l := &Limiter{limit: rate.Limit(cfg.Rate), burst: cfg.Burst, trusted: cfg.Trusted}
	half := max(1, cfg.MaxClients/shardCount/2)
	for i := range l.shards {
		l.shards[i] = shard{cur: make(map[netip.Addr]*rate.Limiter), prev: make(map[netip.Addr]*rate.Limiter), half: half}
	}
	return l
}

// key is what a client is limited by: its address, or its /64 for IPv6.
func key(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.WithZone("").Prefix(64)
		return p.Addr()
	}
	return a
}

func (l *Limiter) shard(k netip.Addr) *shard {
	b := k.As16()
	h := binary.LittleEndian.Uint64(b[:8]) ^ binary.LittleEndian.Uint64(b[8:])
	h *= 0x9e3779b97f4a7c15
	return &l.shards[h>>(64-6)]
}

// Allow takes a token of client a at now. When there is none it returns
// false and how long until there is.
func (l *Limiter) Allow(a netip.Addr, now time.Time) (bool, time.Duration) {
	k := key(a)
	s := l.shard(k)
	s.mu.Lock()
	lim := s.get(k, l)
	s.mu.Unlock()
	if lim.AllowN(now, 1) {
		return true, 0
	}
	l.limited.Add(1)
	missing := 1 - lim.TokensAt(now)
	return false, time.Duration(missing / float64(l.limit) * float64(time.Second))
}

// get returns k's bucket, creating it full. The caller holds s.mu.
func (s *shard) get(k netip.Addr, l *Limiter) *rate.Limiter {
	if lim, ok := s.cur[k]; ok {
		return lim
	}
	lim, ok := s.prev[k]
	if ok {
		delete(s.prev, k)
	} else {
		lim = rate.NewLimiter(l.limit, l.burst)
	}
	if len(s.cur) >= s.half {
		old := s.prev
		clear(old)
		s.prev, s.cur = s.cur, old
	}
	s.cur[k] = lim
	return lim
}

// Clients returns the number of client addresses tracked.
func (l *Limiter) Clients() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.cur) + len(s.prev)
		s.mu.Unlock()
	}
	return n
}

// Limited returns the number of requests refused so far.
func (l *Limiter) Limited() uint64 { return l.limited.Load() }

// Handler answers the requests of clients over their rate with 429 and
// passes the others to next.
func (l *Limiter) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok, wait := l.Allow(l.trusted.Client(r), time.Now())
		if ok {
			next.ServeHTTP(w, r)
			return
		}
		tooMany(w, r, wait)
	})
}

const (
	tooManyText = "429 Too Many Requests: this client sends requests faster than the gateway allows; retry after the number of seconds in Retry-After\n"
	// tooManyOCI is the registry API's error, which docker, podman and
	// containerd show to the user and retry on.
	tooManyOCI = `{"errors":[{"code":"TOOMANYREQUESTS","message":"too many requests from this client; retry after the number of seconds in Retry-After","detail":null}]}` + "\n"
)

// recorder is observe's writer, which logs and traces the request.
type recorder interface {
	RecordResult(host string, kind event.Kind, outcome event.Outcome)
}

func tooMany(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	if rec, ok := w.(recorder); ok {
		rec.RecordResult(r.Host, event.KindNone, event.OutcomeError)
	}
	secs := max(1, int(math.Ceil(wait.Seconds())))
	h := w.Header()
	h.Set("Retry-After", strconv.Itoa(secs))
	body := tooManyText
	if p := r.URL.Path; p == "/v2" || strings.HasPrefix(p, "/v2/") {
		h.Set("Content-Type", "application/json")
		body = tooManyOCI
	} else {
		h.Set("Content-Type", "text/plain; charset=utf-8")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusTooManyRequests)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body))
	}
}

// Collectors returns the limiter's metrics: requests refused, and
// addresses tracked (a count, never an address).
func (l *Limiter) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "portico", Name: "rate_limited_total",
			Help: "Requests answered 429 because their client was over --rate-limit."},
			func() float64 { return float64(l.Limited()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "portico", Name: "rate_limit_clients",
			Help: "Client addresses (IPv6: /64 blocks) the rate limiter tracks, at most --rate-limit-clients."},
			func() float64 { return float64(l.Clients()) }),
	}
}

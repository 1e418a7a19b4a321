package enrich

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"portico/internal/event"
	"portico/internal/geoip"
	"portico/internal/geoip/geoiptest"
	"portico/internal/store"
)

const pipUA = `pip/24.2 {"ci":true,"cpu":"x86_64","implementation":{"name":"CPython","version":"3.12.3"},"installer":{"name":"pip","version":"24.2"},"python":"3.12.3","system":{"name":"Linux","release":"6.5.0"}}`

func download(addr, ua, pkg string, at time.Time) event.Event {
	return event.Event{Kind: event.KindPython, PackageID: pkg, Time: at, Method: "GET", Status: 307,
		Python: event.Python{Object: "file", Project: "rocket"}, UserAgent: ua, ClientAddr: netip.MustParseAddr(addr)}
}

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestDownloaderHash(t *testing.T) {
	day := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	clk := &clock{day}
	en := New(Config{Now: clk.now})
	hash := func(e event.Event) uint64 { en.Enrich(&e); return e.Downloader }

	a := hash(download("203.0.113.7", "curl/8.5.0", "p", day))
	if a == 0 {
		t.Fatal("no downloader hash for an event with an address")
	}
	if b := hash(download("203.0.113.7", "curl/8.5.0", "p", day.Add(time.Hour))); b != a {
		t.Errorf("same client, package and day: %x then %x, want equal", a, b)
	}
	for name, e := range map[string]event.Event{
		"another address":    download("203.0.113.8", "curl/8.5.0", "p", day),
		"another user agent": download("203.0.113.7", "curl/8.6.0", "p", day),
		"another package":    download("203.0.113.7", "curl/8.5.0", "q", day),
		"IPv6":               download("2001:db8::7", "curl/8.5.0", "p", day),
	} {
		if h := hash(e); h == a || h == 0 {
			t.Errorf("%s: hash %x, want a different non-zero hash", name, h)
		}
	}
	// A new day has a new salt, so the same client gets a new hash.
	clk.t = day.Add(24 * time.Hour)
	if b := hash(download("203.0.113.7", "curl/8.5.0", "p", day.Add(24*time.Hour))); b == a || b == 0 {
		t.Errorf("next day: hash %x, want a new one (was %x)", b, a)
	}
	// Yesterday's salt is gone once the grace period is over: an event of
	// that day gets no hash rather than a misleading new one.
	clk.t = day.Add(36 * time.Hour)
	if b := hash(download("203.0.113.7", "curl/8.5.0", "p", day)); b != 0 {
		t.Errorf("event of a day whose salt is gone: hash %x, want 0", b)
	}
	if len(en.salts[day.Unix()/86400].key) != 0 {
		t.Error("the enricher still holds a salt of a day long gone")
	}
	// No address, no hash.
	e := download("203.0.113.7", "curl/8.5.0", "p", clk.t)
	e.ClientAddr = netip.Addr{}
	if h := hash(e); h != 0 {
		t.Errorf("event without an address: hash %x, want 0", h)
	}
}

// memSalts is a SaltStore in memory, shared by the enrichers of a test as
// the store shares it among replicas.
type memSalts struct {
	mu    sync.Mutex
	salts map[time.Time][]byte
	down  bool
	calls int
}

func (m *memSalts) Salt(_ context.Context, day time.Time) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.down {
		return nil, errors.New("connection refused")
	}
	if m.salts == nil {
		m.salts = map[time.Time][]byte{}
	}
	s, ok := m.salts[day]
	if !ok {
		s = make([]byte, store.SaltSize)
		s[0] = byte(len(m.salts) + 1)
		m.salts[day] = s
	}
	return s, nil
}

func TestSharedSalt(t *testing.T) {
	day := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	clk := &clock{day}
	salts := &memSalts{}
	a, b := New(Config{Salts: salts, Now: clk.now}), New(Config{Salts: salts, Now: clk.now})
	ea, eb := download("203.0.113.7", pipUA, "p", day), download("203.0.113.7", pipUA, "p", day)
	a.Enrich(&ea)
	b.Enrich(&eb)
	if ea.Downloader == 0 || ea.Downloader != eb.Downloader {
		t.Fatalf("two replicas hash one client as %x and %x, want the same", ea.Downloader, eb.Downloader)
	}
	calls := salts.calls
	for range 100 {
		e := download("203.0.113.9", pipUA, "p", day)
		a.Enrich(&e)
	}
	if salts.calls != calls {
		t.Errorf("the salt was fetched %d more times; want it kept in memory for the day", salts.calls-calls)
	}
}

func TestSaltStoreDown(t *testing.T) {
	day := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	clk := &clock{day}
	salts := &memSalts{down: true}
	en := New(Config{Salts: salts, Now: clk.now})
	e := download("203.0.113.7", "curl/8.5.0", "p", day)
	en.Enrich(&e)
	if e.Downloader == 0 {
		t.Fatal("no hash while the salt store is down; want one from a salt of this process")
	}
	local := e.Downloader
	// Within the retry interval the store is not asked again.
	salts.mu.Lock()
	calls := salts.calls
	salts.mu.Unlock()
	clk.t = clk.t.Add(10 * time.Second)
	e = download("203.0.113.7", "curl/8.5.0", "p", day)
	en.Enrich(&e)
	salts.mu.Lock()
	n := salts.calls
	salts.mu.Unlock()
	if n != calls || e.Downloader != local {
		t.Fatalf("store asked %d more times, hash %x (was %x); want the local salt kept without asking", n-calls, e.Downloader, local)
	}
	// Once the store is back, the shared salt replaces the local one: it
	// is fetched in the background, without holding up enrichment.
	salts.mu.Lock()
	salts.down = false
	salts.mu.Unlock()
	clk.t = clk.t.Add(2 * time.Minute)
	other := New(Config{Salts: salts, Now: clk.now})
	e2 := download("203.0.113.7", "curl/8.5.0", "p", day)
	other.Enrich(&e2)
	deadline := time.Now().Add(10 * time.Second)
	for {
		e = download("203.0.113.7", "curl/8.5.0", "p", day)
		en.Enrich(&e)
		if e.Downloader == e2.Downloader {
			break
		}
		if e.Downloader != local || time.Now().After(deadline) {
			t.Fatalf("after the store came back: hash %x, another replica %x, local %x; want the local one, then the shared one", e.Downloader, e2.Downloader, local)
		}
		time.Sleep(time.Millisecond)
	}
}

// blockedSalts is a SaltStore that answers only when released.
type blockedSalts struct {
	memSalts
	release chan struct{}
}

func (s *blockedSalts) Salt(ctx context.Context, day time.Time) ([]byte, error) {
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.memSalts.Salt(ctx, day)
}

// TestStuckSaltStore checks that enrichment goes on while the salt store
// does not answer: it must not wait for it.
func TestStuckSaltStore(t *testing.T) {
	salts := &blockedSalts{release: make(chan struct{})}
	defer close(salts.release)
	en := New(Config{Salts: salts})
	done := make(chan uint64)
	go func() {
		var last uint64
		for range 1000 {
			e := download("203.0.113.7", "curl/8.5.0", "p", time.Now())
			en.Enrich(&e)
			last = e.Downloader
		}
		done <- last
	}()
	select {
	case h := <-done:
		if h == 0 {
			t.Error("no hash while the salt store does not answer")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("enrichment waits for a salt store that does not answer")
	}
}

func TestClientOriginSource(t *testing.T) {
	dir := t.TempDir()
	city, asn := filepath.Join(dir, "city.mmdb"), filepath.Join(dir, "asn.mmdb")
	geoiptest.WriteCity(t, city, geoiptest.Location{Network: "203.0.113.0/24", Country: "DE", Region: "BE"},
		geoiptest.Location{Network: "198.51.100.0/24", Country: "US"})
	geoiptest.WriteASN(t, asn, geoiptest.AS{Network: "203.0.113.0/24", Number: 3320, Org: "Deutsche Telekom AG"},
		geoiptest.AS{Network: "198.51.100.0/24", Number: 16509, Org: "AMAZON-02"})
	db, err := geoip.Open(city, asn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	en := New(Config{GeoIP: db})
	tests := []struct {
		addr, ua string
		source   event.Source
		country  string
		client   string
	}{
		{"203.0.113.7", "curl/8.5.0", event.SourceHuman, "DE", "curl"},
		{"198.51.100.7", "curl/8.5.0", event.SourceCloud, "US", "curl"},
		{"203.0.113.7", pipUA, event.SourceCI, "DE", "pip"}, // the client says CI
		{"198.51.100.7", pipUA, event.SourceCI, "US", "pip"},
		{"192.0.2.1", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", event.SourceHuman, "", "googlebot"},
	}
	for _, tt := range tests {
		e := download(tt.addr, tt.ua, "p", time.Now())
		en.Enrich(&e)
		if e.Source != tt.source || e.Origin.Country != tt.country || e.Client.Name != tt.client {
			t.Errorf("%s with %.20q: source %v, country %q, client %q; want %v, %q, %q",
				tt.addr, tt.ua, e.Source, e.Origin.Country, e.Client.Name, tt.source, tt.country, tt.client)
		}
	}
}

func BenchmarkEnrich(b *testing.B) {
	en := New(Config{})
	e := download("203.0.113.7", pipUA, "p", time.Now())
	b.ReportAllocs()
	for b.Loop() {
		ev := e
		en.Enrich(&ev)
	}
}

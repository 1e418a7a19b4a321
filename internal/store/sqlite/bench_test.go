package sqlite

import (
	"os"
	"testing"
	"time"

	"portico/internal/store"
)

// BenchmarkMovedRange measures a breakdown of the top package's last 30
// days over a store that bench/analytics loaded (PORTICO_BENCH_STORE):
// on a handle opened read-only, which keeps no cache; once the answer of
// the range a day longer is kept, as when "the last 30 days" moved to a
// new day; and once its own answer is kept.
//
//	go run ./bench/analytics -store sqlite -dir /tmp/p10m
//	PORTICO_BENCH_STORE=/tmp/p10m go test -run '^$' -bench MovedRange ./internal/store/sqlite
func BenchmarkMovedRange(b *testing.B) {
	dir := os.Getenv("PORTICO_BENCH_STORE")
	if dir == "" {
		b.Skip("set PORTICO_BENCH_STORE to a data directory loaded by bench/analytics")
	}
	s, err := Open(b.Context(), Config{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ro, err := Open(b.Context(), Config{Dir: dir, ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer ro.Close()
	to := store.Hour(time.Now()).Add(time.Hour)
	days := func(n int, by store.Dim) store.Query {
		return store.Query{Filter: store.Filter{From: to.Add(-time.Duration(n) * 24 * time.Hour), To: to, Package: "pkg-000"}, By: by, Limit: 10}
	}
	aggregate := func(b *testing.B, st *Store, q store.Query) {
		if _, err := st.Aggregate(b.Context(), q); err != nil {
			b.Fatal(err)
		}
	}
	for _, by := range []store.Dim{store.DimOrg, store.DimCountry} {
		b.Run(by.String()+"/read-only", func(b *testing.B) {
			for b.Loop() {
				aggregate(b, ro, days(30, by))
			}
		})
		b.Run(by.String()+"/moved-a-day", func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				s.past.invalidate()
				aggregate(b, s, days(31, by))
				b.StartTimer()
				aggregate(b, s, days(30, by))
			}
		})
		b.Run(by.String()+"/warm", func(b *testing.B) {
			aggregate(b, s, days(30, by))
			for b.Loop() {
				aggregate(b, s, days(30, by))
			}
		})
	}
}

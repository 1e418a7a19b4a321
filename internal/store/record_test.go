package store_test

import (
	"testing"
	"time"

	"portico/internal/event"
	"portico/internal/store"
	"portico/internal/store/storetest"
)

// BenchmarkNewRecords derives the records of a large batch without
// buffers to reuse, as a store that does not keep them between batches
// does.
func BenchmarkNewRecords(b *testing.B) {
	syn := storetest.NewSynthetic(42, time.Now().Add(-time.Hour), time.Hour, 50, 50_000*3600)
	batch := syn.Batch(make([]event.Event, 50_000))
	b.ReportAllocs()
	for b.Loop() {
		recs, _ := store.NewRecords(batch, nil, nil)
		if len(recs) != len(batch) {
			b.Fatalf("%d records for %d events", len(recs), len(batch))
		}
	}
}

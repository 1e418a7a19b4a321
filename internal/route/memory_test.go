package route

import (
	"runtime"
	"testing"

	"portico/internal/manifest"
)

// maxBytesPerRule bounds what a compiled table of file-v1 rules keeps,
// with the decoded rules it was compiled from: about 580 bytes each
// (docs/scaling.md). A gateway may serve a hundred thousand rules, and
// every byte here is a hundred kilobytes of its memory, twice over once
// the garbage collector's headroom is counted.
const maxBytesPerRule = 640

// TestTableMemory compiles 20,000 rules over 2,000 domains and measures
// the live heap they add: the table, the decoded rules and their
// templates, as a gateway holds them.
func TestTableMemory(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation sizes")
	}
	const rules = 20000
	data := fileManifest(rules, 2000, false)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m, err := manifest.Decode("bench.json", data)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := Compile(m, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(data)
	perRule := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / rules
	t.Logf("%d bytes a rule", perRule)
	if perRule > maxBytesPerRule {
		t.Errorf("the table and its rules keep %d bytes a rule, more than %d", perRule, maxBytesPerRule)
	}
	runtime.KeepAlive(m)
	runtime.KeepAlive(tbl)
}

package stats

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"portico/internal/event"
	"portico/internal/store"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestReportGolden pins the report's three forms, as "portico stats"
// prints them, byte for byte.
func TestReportGolden(t *testing.T) {
	events, _ := fixture()
	bot := download(mon.Add(50*time.Hour), "2.0", "FR", 7)
	bot.Client.Bot = true
	bot.Source = event.SourceCI
	s, _ := newStats(t, append(events, bot))
	span := store.Filter{From: mon, To: mon.Add(35 * 24 * time.Hour)}
	dims := func(names ...string) []store.Dim {
		var out []store.Dim
		for _, n := range names {
			d, err := store.ParseDim(n)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, d)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		q     Query
		every Interval
		dims  []store.Dim
	}{
		{"report", Query{Filter: store.Filter{From: span.From, To: span.To, Package: "rocket", Bots: store.BotsInclude}},
			Day, dims("version", "country", "client", "source")},
		{"report-where", Query{Filter: store.Filter{From: span.From, To: span.To, Where: []store.Cond{{Dim: store.DimCountry, Value: "DE"}}}, Measure: store.Requests},
			Week, dims("version", "country")},
	} {
		rep, err := s.Report(t.Context(), tc.q, tc.every, tc.dims, 10)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var text, csv, js bytes.Buffer
		if err := rep.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		if err := rep.WriteCSV(&csv); err != nil {
			t.Fatal(err)
		}
		enc := json.NewEncoder(&js)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			t.Fatal(err)
		}
		outputs := map[string][]byte{".txt": text.Bytes(), ".json": js.Bytes()}
		if tc.name == "report" {
			outputs[".csv"] = csv.Bytes()
		}
		for ext, got := range outputs {
			golden := filepath.Join("testdata", tc.name+ext+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s:\n%s", tc.name+ext, golden, got)
			}
		}
	}
}

func TestGroup(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1000: "-1,000", -12: "-12"} {
		if got := group(n); got != want {
			t.Errorf("group(%d) = %q, want %q", n, got, want)
		}
	}
}

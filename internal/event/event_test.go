package event

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sampleEvents() []Event {
	at := time.Date(2026, 11, 22, 23, 0, 0, 123_000_000, time.UTC)
	ids := NewIDSource()
	return []Event{
		{
			ID: ids.New(at), Time: at, Kind: KindDocker, PackageID: "8717", Domain: "cr.acme.dev",
			Method: "GET", Path: "/v2/acme/rocket-skates/manifests/1.0", Status: 307, Outcome: OutcomeRedirect,
			Docker: Docker{Image: "acme/rocket-skates", Reference: "1.0", Object: "manifest", Backend: "ghcr.io", Pull: true},
			Client: Client{Name: "docker", Version: "27.3.1", OS: "linux", Arch: "amd64", Runtime: "go/1.22.7", CI: true, Bot: false},
			Origin: Origin{Country: "DE", Region: "BE", ASN: 3320, Org: "Deutsche Telekom AG", Network: NetworkCloud},
			Source: SourceCI, Downloader: 0x00c0ffee12345678,
		},
		{
			ID: ids.New(at), Time: at, Kind: KindFile, PackageID: "p", Domain: "get.acme.dev", Method: "POST",
			Path: "/caf%C3%A9", Status: 200, Outcome: OutcomeServe,
			Variables: []Var{{"z", "last"}, {"a", "caf\u00e9 \"q\"\n\t\\"}},
			Body:      []byte(`{"x":"Hello"}`),
		},
		{ID: ids.New(at), Time: at, Kind: KindTelemetry, PackageID: "t", RuleID: "r", Domain: "d", Method: "POST", Path: "/events",
			Status: 200, Outcome: OutcomeServe, Payload: []byte(`{"n":1.5,"l":[true,null]}`)},
		{ID: ids.New(at), Time: at, Kind: KindPixel, Domain: "static.acme.dev", RequestedHost: "localhost", Method: "GET", Path: "/a.png", Status: 200, Outcome: OutcomeServe, PixelID: "abc def"},
		{ID: ids.New(at), Time: at, Kind: KindScarfJS, Domain: "scarf.sh", Method: "POST", Path: "/package-event/install/x", Status: 200, Outcome: OutcomeServe, Payload: []byte(`[1]`), Subject: "x"},
		{ID: ids.New(at), Time: at, Kind: KindPython, PackageID: "py", Domain: "py.acme.dev", Method: "GET", Path: "/simple/numpy/", Status: 304, Outcome: OutcomeNotModified,
			Python: Python{Object: "project", Project: "numpy"}},
		{ID: ids.New(at), Time: at, Kind: KindNPM, Domain: "npm.acme.dev", Method: "GET", Path: "/x/-/x-1.0.0.tgz", Status: 307, Outcome: OutcomeRedirect,
			NPM: NPM{Object: "tarball", Package: "x", Version: "1.0.0"}},
	}
}

func TestJSONRoundTrip(t *testing.T) {
	for _, e := range sampleEvents() {
		line := e.AppendJSON(nil)
		if !json.Valid(line) {
			t.Fatalf("AppendJSON(%s event) is not valid JSON: %s", e.Kind, line)
		}
		if bytes.ContainsAny(line, "\n\r") {
			t.Errorf("AppendJSON(%s event) spans lines: %s", e.Kind, line)
		}
		got, err := Parse(line)
		if err != nil {
			t.Fatalf("Parse(%s): %v", line, err)
		}
		if !reflect.DeepEqual(got, e) {
			t.Errorf("Parse(AppendJSON(e)) differs for %s:\n got %+v\nwant %+v", e.Kind, got, e)
		}
	}
}

func TestJSONShape(t *testing.T) {
	e := sampleEvents()[0]
	var m map[string]any
	if err := json.Unmarshal(e.AppendJSON(nil), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"v", "id", "time", "kind", "package_id", "rule_id", "domain", "method", "path", "status", "outcome", "docker", "client", "origin", "source", "downloader"} {
		if _, ok := m[k]; !ok {
			t.Errorf("event has no %q field: %v", k, m)
		}
	}
	if m["time"] != "2026-11-22T23:00:00.123Z" {
		t.Errorf("time = %v, want 2026-11-22T23:00:00.123Z", m["time"])
	}
	if m["rule_id"] != nil {
		t.Errorf("rule_id = %v, want null", m["rule_id"])
	}
	if d := m["docker"].(map[string]any); d["pull"] != true || d["media_type"] != nil {
		t.Errorf("docker = %v, want pull true and media_type null", d)
	}
	if m["source"] != "ci" || m["downloader"] != "00c0ffee12345678" {
		t.Errorf("source = %v, downloader = %v; want ci and 00c0ffee12345678", m["source"], m["downloader"])
	}
	c := m["client"].(map[string]any)
	if c["ci"] != true || c["bot"] != false || c["runtime"] != "go/1.22.7" {
		t.Errorf("client = %v, want ci true, bot false, runtime go/1.22.7", c)
	}
	o := m["origin"].(map[string]any)
	if o["region"] != "BE" || o["network"] != "cloud" {
		t.Errorf("origin = %v, want region BE and network cloud", o)
	}

	// An event that was never enriched has the same keys, with nulls.
	var bare map[string]any
	if err := json.Unmarshal(sampleEvents()[2].AppendJSON(nil), &bare); err != nil {
		t.Fatal(err)
	}
	if bare["source"] != nil || bare["downloader"] != nil {
		t.Errorf("unenriched event: source = %v, downloader = %v; want null", bare["source"], bare["downloader"])
	}
	for _, k := range []string{"runtime", "ci", "bot"} {
		if _, ok := bare["client"].(map[string]any)[k]; !ok {
			t.Errorf("unenriched event has no client.%s", k)
		}
	}
}

// FuzzParse checks that whatever Parse accepts, AppendJSON writes back in
// a form that Parse reads as the same event.
func FuzzParse(f *testing.F) {
	for _, e := range sampleEvents() {
		f.Add(e.AppendJSON(nil))
	}
	f.Add([]byte(`{"v":1,"kind":"pixel","outcome":"serve","downloader":"zz"}`))
	f.Add([]byte(`{"v":1,"kind":"docker","outcome":"proxy","origin":{"network":"moon"}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := Parse(line)
		if err != nil {
			return
		}
		again, err := Parse(e.AppendJSON(nil))
		if err != nil {
			t.Fatalf("Parse(AppendJSON(Parse(%q))): %v", line, err)
		}
		// Times keep milliseconds only.
		e.Time = e.Time.Truncate(time.Millisecond)
		if !again.Time.Equal(e.Time) {
			t.Fatalf("time changed: %v, want %v", again.Time, e.Time)
		}
		again.Time = e.Time
		if !reflect.DeepEqual(again.Client, e.Client) || again.Origin != e.Origin || again.Source != e.Source ||
			again.Downloader != e.Downloader || again.ID != e.ID || again.Kind != e.Kind {
			t.Fatalf("round trip changed the event:\n got %+v\nwant %+v", again, e)
		}
	})
}

// TestNoClientData makes sure the address and user agent, which events
// carry for enrichment, never reach the encoded form.
func TestNoClientData(t *testing.T) {
	for _, e := range sampleEvents() {
		e.ClientAddr = netip.MustParseAddr("203.0.113.77")
		e.UserAgent = "secret-agent/1.0"
		line := string(e.AppendJSON(nil))
		for _, leak := range []string{"203.0.113.77", "secret-agent"} {
			if strings.Contains(line, leak) {
				t.Errorf("%s event encodes %q: %s", e.Kind, leak, line)
			}
		}
	}
}

func TestAppendStringEscapes(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{"q\"b\\", `"q\"b\\"`},
		{"\x00\x1f", `"\u0000\u001f"`},
		{"bad\xffutf8", `"bad\ufffdutf8"`},
		{"sep\u2028\u2029", `"sep\u2028\u2029"`},
		{"é", `"é"`},
	}
	for _, tt := range tests {
		if got := string(appendString(nil, tt.in)); got != tt.want {
			t.Errorf("appendString(%q) = %s, want %s", tt.in, got, tt.want)
		}
		var back string
		if err := json.Unmarshal(appendString(nil, tt.in), &back); err != nil {
			t.Errorf("appendString(%q) is not a JSON string: %v", tt.in, err)
		}
	}
}

func TestAppendJSONNoAlloc(t *testing.T) {
	e := sampleEvents()[0]
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { buf = e.AppendJSON(buf[:0]) }); n != 0 {
		t.Errorf("AppendJSON allocates %v times per event, want 0", n)
	}
}

func TestIDText(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_123).UTC()
	ids := NewIDSource()
	a, b := ids.New(at), ids.New(at)
	if a == b {
		t.Fatal("two IDs for the same millisecond are equal")
	}
	text := a.String()
	if len(text) != 26 || strings.Trim(text, crockford) != "" {
		t.Fatalf("ID text %q is not 26 Crockford base32 digits", text)
	}
	var back ID
	if err := back.UnmarshalText([]byte(strings.ToLower(text))); err != nil || back != a {
		t.Fatalf("UnmarshalText(%q) = %v, %v; want %v", text, back, err, a)
	}
	if !a.Time().Equal(at) {
		t.Errorf("ID time = %v, want %v", a.Time(), at)
	}
	later := ids.New(at.Add(time.Millisecond))
	if later.String() <= a.String() {
		t.Errorf("a later ID sorts first: %s <= %s", later, a)
	}
	for _, bad := range []string{"", "8ZZZZZZZZZZZZZZZZZZZZZZZZZ", "01ARZ3NDEKTSV4RRFFQ69G5FAU"} {
		if err := back.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("UnmarshalText(%q) accepted a malformed ID", bad)
		}
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	e := sampleEvents()[1]
	buf := make([]byte, 0, 4096)
	for b.Loop() {
		buf = e.AppendJSON(buf[:0])
	}
}

func TestCounting(t *testing.T) {
	tests := []struct {
		name     string
		e        Event
		pkg, art string
		version  string
		download bool
	}{
		{"docker pull", Event{Kind: KindDocker, RuleID: "r", Method: "GET", Status: 307, Docker: Docker{Image: "acme/x", Reference: "1.0", Object: "manifest", Pull: true}}, "r", "acme/x", "1.0", true},
		{"docker HEAD", Event{Kind: KindDocker, PackageID: "p", Method: "HEAD", Status: 200, Docker: Docker{Image: "acme/x", Reference: "1.0", Object: "manifest"}}, "p", "acme/x", "1.0", false},
		{"docker failed pull", Event{Kind: KindDocker, PackageID: "p", Method: "GET", Status: 401, Docker: Docker{Image: "acme/x", Object: "manifest", Pull: true}}, "p", "acme/x", "", false},
		{"docker blob", Event{Kind: KindDocker, PackageID: "p", Method: "GET", Status: 200, Docker: Docker{Image: "acme/x", Object: "blob"}}, "p", "acme/x", "", false},
		{"python file", Event{Kind: KindPython, PackageID: "p", Method: "GET", Status: 307, Python: Python{Object: "file", Project: "rocket", Version: "1.2"}}, "p", "rocket", "1.2", true},
		{"python index", Event{Kind: KindPython, PackageID: "p", Method: "GET", Status: 200, Python: Python{Object: "project", Project: "rocket"}}, "p", "rocket", "", false},
		{"npm tarball", Event{Kind: KindNPM, PackageID: "p", Method: "GET", Status: 307, NPM: NPM{Object: "tarball", Package: "x", Version: "2.0.0"}}, "p", "x", "2.0.0", true},
		{"npm packument", Event{Kind: KindNPM, PackageID: "p", Method: "GET", Status: 200, NPM: NPM{Object: "packument", Package: "x"}}, "p", "x", "", false},
		{"file", Event{Kind: KindFile, PackageID: "p", Method: "GET", Status: 307, Variables: []Var{{"os", "linux"}, {"version", "v1.2.0"}}}, "p", "", "v1.2.0", true},
		{"file HEAD", Event{Kind: KindFile, PackageID: "p", Method: "HEAD", Status: 307}, "p", "", "", false},
		{"telemetry", Event{Kind: KindTelemetry, PackageID: "p", Method: "POST", Status: 200}, "p", "", "", true},
		{"scarf-js", Event{Kind: KindScarfJS, PackageID: "p", Method: "POST", Status: 200, Subject: "x", Payload: []byte(`{"libraryVersion":"1.2.0"}`)}, "p", "x", "1.2.0", true},
		{"pixel without package", Event{Kind: KindPixel, Method: "GET", Status: 200}, "", "", "", true},
	}
	for _, tt := range tests {
		if got := tt.e.Package(); got != tt.pkg {
			t.Errorf("%s: Package() = %q, want %q", tt.name, got, tt.pkg)
		}
		if got := tt.e.Artifact(); got != tt.art {
			t.Errorf("%s: Artifact() = %q, want %q", tt.name, got, tt.art)
		}
		if got := tt.e.ArtifactVersion(); got != tt.version {
			t.Errorf("%s: ArtifactVersion() = %q, want %q", tt.name, got, tt.version)
		}
		if got := tt.e.Download(); got != tt.download {
			t.Errorf("%s: Download() = %v, want %v", tt.name, got, tt.download)
		}
	}
	for mt, want := range map[string]bool{
		"application/vnd.oci.image.index.v1+json":                   true,
		"application/vnd.docker.distribution.manifest.list.v2+json": true,
		"application/vnd.oci.image.manifest.v1+json":                false,
		"application/vnd.docker.distribution.manifest.v2+json":      false,
		"application/vnd.oci.image.index.v1+json; charset=utf-8":    true,
		"": false,
	} {
		if got := IsIndexMediaType(mt); got != want {
			t.Errorf("IsIndexMediaType(%q) = %v, want %v", mt, got, want)
		}
	}
}

func TestAppendTime(t *testing.T) {
	check := func(tm time.Time) {
		t.Helper()
		got := string(appendTime(nil, tm))
		want := tm.UTC().AppendFormat(nil, timeLayout)
		if got != string(want) {
			t.Fatalf("appendTime(%v) = %q, want %q", tm, got, want)
		}
	}
	for _, tm := range []time.Time{
		{},
		time.Unix(0, 0),
		time.Date(2026, 11, 22, 23, 0, 0, 123456789, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.FixedZone("x", -5*3600)),
		time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 2, 29, 12, 30, 5, 1e6, time.UTC),
	} {
		check(tm)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		check(time.Unix(r.Int64N(400e9)-200e9, r.Int64N(1e9)))
	}
}

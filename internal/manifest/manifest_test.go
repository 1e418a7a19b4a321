package manifest

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestDecodeGood(t *testing.T) {
	m, err := Load("testdata/good.json")
	if err != nil {
		t.Fatalf("Load(good.json): %v", err)
	}
	if len(m.Rules) != 13 {
		t.Fatalf("got %d rules, want 13", len(m.Rules))
	}
	d1 := m.Rules[0].(*DockerV1)
	if !d1.AlwaysProxy || d1.Registry != (Backend{Text: "ghcr.io", Scheme: "https", Host: "ghcr.io"}) || d1.Host != "cr.acme.dev" {
		t.Errorf("docker-v1 = %+v", d1)
	}
	d2 := m.Rules[1].(*DockerV2)
	if d2.Registry.Host != "registry-1.docker.io" || !d2.Pattern.Match([]string{"library", "nginx"}) || d2.UpstreamPrefix != "mirror/library" {
		t.Errorf("docker-v2 = %+v: want the Docker Hub registry and a pattern matching library/nginx", d2)
	}
	if b := m.Rules[2].(*DockerV1).Registry; b.Scheme != "http" || b.Host != "127.0.0.1:5000" || b.URL() != "http://127.0.0.1:5000" {
		t.Errorf("docker-v1 URL backend = %+v", b)
	}
	f1 := m.Rules[3].(*FileV1)
	if f1.Host != "get.acme.dev" || f1.Domain != "Get.Acme.Dev:443" {
		t.Errorf("file-v1 host = %q (domain %q), want get.acme.dev", f1.Host, f1.Domain)
	}
	if string(f1.Extensions["x-note"]) != `"kept"` {
		t.Errorf("file-v1 extensions = %s", f1.Extensions)
	}
	if m.Rules[4].(*FileV1).OutgoingURL != nil {
		t.Error("file-v1 outgoing-url null decoded as a URL")
	}
	f2 := m.Rules[5].(*FileV2)
	if f2.Regexp.String() != "/packages/(?<name>.*)-(?<version>[0-9].*)" || f2.IncomingPath[0] != ' ' {
		t.Errorf("file-v2 regexp %q from %q: want the expression trimmed, the text kept", f2.Regexp, f2.IncomingPath)
	}
	py := m.Rules[6].(*PythonV1)
	if py.HashValue == nil || *py.HashValue != (Hash{"sha256", "00"}) || py.GPGSig == nil || *py.GPGSig || *py.RequiresPython != ">=3.8" {
		t.Errorf("python-v1 = %+v", py)
	}
	if tel := m.Rules[8].(*Telemetry); len(tel.AccessTokens) != 2 {
		t.Errorf("telemetry tokens = %q", tel.AccessTokens)
	}
	if tel := m.Rules[9].(*Telemetry); tel.AccessTokens == nil || len(tel.AccessTokens) != 0 {
		t.Errorf("access-tokens [] decoded as %#v, want an empty non-nil list (nobody may post)", tel.AccessTokens)
	}
	if m.Rules[3].(*FileV1).AllowDotSegments || !m.Rules[12].(*FileV1).AllowDotSegments {
		t.Error("allow-dot-segments: want false by default and true where set")
	}
	if string(m.Extensions["x-comment"]) != `"one rule of every kind"` {
		t.Errorf("document extensions = %s", m.Extensions)
	}
	if got := m.Domains(); got != 5 {
		t.Errorf("Domains() = %d, want 5", got)
	}
}

// TestBadGolden checks the exact problem list for each bad manifest, as
// `portico check` prints it. Run with -update to rewrite the golden files.
func TestBadGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/bad/*.json")
	if len(files) == 0 {
		t.Fatal("no testdata/bad/*.json")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			m, err := Load(file)
			if err == nil {
				t.Fatalf("Load(%s) accepted a bad manifest: %d rules", file, len(m.Rules))
			}
			if m != nil {
				t.Errorf("Load(%s) returned a partial manifest with its error", file)
			}
			var b strings.Builder
			for _, p := range Errors(err) {
				b.WriteString(p.Error())
				b.WriteByte('\n')
			}
			if len(Errors(err)) == 0 {
				t.Fatalf("Load(%s) error %q holds no *Error", file, err)
			}
			golden := strings.TrimSuffix(file, ".json") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if b.String() != string(want) {
				t.Errorf("problems differ from %s:\n--- got\n%s--- want\n%s", golden, b.String(), want)
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	e := &Error{File: "manifest.json", Rule: 3, Type: "file-v1", Field: "incoming-path", Err: errors.New("unclosed '{' at column 12")}
	if got, want := e.Error(), "manifest.json: rules[3] (file-v1): incoming-path: unclosed '{' at column 12"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	doc := &Error{File: "m.json", Rule: -1, Field: "rules", Err: errors.New("missing")}
	if got, want := doc.Error(), "m.json: rules: missing"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	m, err := Load("testdata/good.json")
	if err != nil {
		t.Fatal(err)
	}
	out, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode("encoded", out)
	if err != nil {
		t.Fatalf("Decode(Encode(m)): %v\n%s", err, out)
	}
	again, err := Encode(back)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, again) {
		t.Errorf("Encode is not stable:\n%s\n---\n%s", out, again)
	}
	if !sameRules(m, back) {
		t.Errorf("Decode(Encode(m)) differs from m")
	}
	if !strings.Contains(string(out), `"package-name": ""`) {
		t.Errorf("docker-v1 rules must always carry package-name, as Scarf writes them:\n%s", out)
	}
}

// sameRules compares manifests by their re-encodable content: parsed
// templates and expressions are compared by source text.
func sameRules(a, b *Manifest) bool {
	if len(a.Rules) != len(b.Rules) {
		return false
	}
	for i := range a.Rules {
		ea, _ := Encode(&Manifest{Rules: a.Rules[i : i+1]})
		eb, _ := Encode(&Manifest{Rules: b.Rules[i : i+1]})
		if !bytes.Equal(ea, eb) || !reflect.DeepEqual(a.Rules[i].Common(), b.Rules[i].Common()) {
			return false
		}
	}
	return true
}

func TestHostKey(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"get.acme.dev", "get.acme.dev", ""},
		{"GET.Acme.dev:443", "get.acme.dev", ""},
		{"get.acme.dev.", "get.acme.dev", ""},
		{"[::1]:8081", "::1", ""},
		{"[::1]", "::1", ""},
		{"[0:0::1]", "::1", ""},
		{"[2001:DB8::A]", "2001:db8::a", ""},
		{"127.0.0.1:8081", "127.0.0.1", ""},
		{"localhost", "localhost", ""},
		{"", "", "must not be empty"},
		{"a b", "", "not allowed"},
		{"a..b", "", "empty label"},
		{"0..", "", "empty label"},
		{"a.test..:80", "", "empty label"},
		{"a:99999", "", "bad port"},
		{"[127.0.0.1]", "", "not an IPv6"},
		{"https://a.test", "", "not a URL"},
		{"\u0130", "", "xn--"},
		{"\u212Aelvin.test", "", "xn--"},
	}
	for _, tt := range tests {
		got, err := HostKey(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("HostKey(%q) = %q, %v; want error containing %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("HostKey(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// FuzzDecode checks that Decode never panics, that it either accepts a
// manifest whole or reports located problems, and that an accepted
// manifest survives Encode and Decode unchanged.
func FuzzDecode(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.json")
	bad, _ := filepath.Glob("testdata/bad/*.json")
	for _, p := range append(seeds, bad...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"rules":[{"type":"file-v1","domain":"a","incoming-path":"/{a}","outgoing-url":"https://b/{a}","package-id":"p"}]}`))
	// Hostile shapes: encodings, repeated keys at every depth, templates
	// past their limits.
	f.Add([]byte("\xef\xbb\xbf{\"rules\":[]}"))
	f.Add([]byte("\xff\xfe{\x00}\x00"))
	f.Add([]byte(`{"rules":[{"type":"pixel-v1","domain":"a","x-a":{"b":[{"c":1,"c":2}]}}],"x-b":{"d":1,"\u0064":2}}`))
	f.Add([]byte(`{"rules":[{"type":"python-v1","domain":"p","package-name":"x","file-name":"x.whl","version":"1","backend-url":"https://f/x.whl","package-id":"p","hash-value":{"type":"a","hash":"b","hash":"c"}}]}`))
	f.Add([]byte(`{"rules":[{"type":"scarf-js-v1","domain":"a","package-id":"\ud800\udc00\udc00"}]}`))
	f.Add([]byte(`{"rules":[{"type":"file-v1","domain":"a","incoming-path":"/` + strings.Repeat("{a}", 40) + `","outgoing-url":null,"package-id":"p"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode("fuzz.json", data)
		if err != nil {
			if m != nil {
				t.Fatal("Decode returned a manifest with an error")
			}
			problems := Errors(err)
			if len(problems) == 0 {
				t.Fatalf("Decode error %q holds no *Error", err)
			}
			for _, p := range problems {
				if !strings.HasPrefix(p.Error(), "fuzz.json: ") {
					t.Fatalf("problem %q does not name the file", p)
				}
			}
			return
		}
		acceptedIsStrict(t, data)
		out, err := Encode(m)
		if err != nil {
			t.Fatalf("Encode of a decoded manifest: %v", err)
		}
		back, err := Decode("encoded", out)
		if err != nil {
			t.Fatalf("Decode(Encode(m)) = %v\n%s", err, out)
		}
		if !sameRules(m, back) {
			t.Fatalf("Decode(Encode(m)) differs from m\n%s", out)
		}
	})
}

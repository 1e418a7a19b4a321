package manifest

import (
	"encoding/json"
	"strings"
	"testing"
	"unsafe"
)

func TestDecodeRule(t *testing.T) {
	r, err := DecodeRule("api", []byte(`{"type":"file-v1","domain":"Get.Example.com","incoming-path":"/{v}/x.tgz","outgoing-url":"https://cdn.example.com/{v}/x.tgz"}`), "pkg-1")
	if err != nil {
		t.Fatal(err)
	}
	if PackageID(r) != "pkg-1" || r.Common().Host != "get.example.com" {
		t.Fatalf("decoded %+v", r)
	}
	b, err := EncodeRule(r)
	if err != nil {
		t.Fatal(err)
	}
	again, err := DecodeRule("api", b, "")
	if err != nil {
		t.Fatalf("round trip of %s: %v", b, err)
	}
	if b2, _ := EncodeRule(again); string(b2) != string(b) {
		t.Fatalf("round trip changed the rule:\n%s\n%s", b, b2)
	}
	if !json.Valid(b) || strings.Contains(string(b), "\n") {
		t.Fatalf("EncodeRule wrote %q, want compact JSON", b)
	}

	// A docker-v2 rule's identity is its rule id.
	r, err = DecodeRule("api", []byte(`{"type":"docker-v2","domain":"cr.example.com","pattern":"acme/*","registry":"ghcr.io"}`), "col-1")
	if err != nil {
		t.Fatal(err)
	}
	if PackageID(r) != "col-1" {
		t.Fatalf("docker-v2 rule id %q", PackageID(r))
	}
	// An id in the rule wins over the one given.
	r, err = DecodeRule("api", []byte(`{"type":"npm-v1","domain":"npm.example.com","package-name":"left-pad","registry":"registry.npmjs.org","package-id":"mine"}`), "other")
	if err != nil {
		t.Fatal(err)
	}
	if PackageID(r) != "mine" {
		t.Fatalf("package id %q, want the rule's own", PackageID(r))
	}
}

func TestDecodeRuleErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`[]`, "a rule must be a JSON object, not array"},
		{`{"type":"file-v1"`, "unexpected end"},
		{`{"type":"nope","domain":"a.example"}`, `type: unknown rule type "nope"`},
		{`{"type":"file-v1","domain":"a.example","incoming-path":"/{x","outgoing-url":"https://b.example/"}`, "incoming-path"},
		{`{"type":"file-v1","domain":"a.example","incoming-path":"/x","outgoing-url":"https://b.example/","colour":"red"}`, "colour: unknown field"},
	} {
		_, err := DecodeRule("api", []byte(c.in), "id")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("DecodeRule(%s) = %v, want an error containing %q", c.in, err, c.want)
		}
		if err != nil && len(Errors(err)) == 0 {
			t.Errorf("DecodeRule(%s): %v holds no *Error", c.in, err)
		}
	}
}

// TestHTTPSOnly: "https-only" is read on every rule type, written back
// only when true, and must be a boolean.
func TestHTTPSOnly(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{`{"type":"file-v1","domain":"get.example.com","https-only":true,"incoming-path":"/x","outgoing-url":"https://cdn.example.com/x"}`, true},
		{`{"type":"docker-v2","domain":"cr.example.com","https-only":true,"pattern":"acme/*","registry":"ghcr.io"}`, true},
		{`{"type":"pixel-v1","domain":"p.example.com","https-only":false}`, false},
		{`{"type":"pixel-v1","domain":"p.example.com","https-only":null}`, false},
		{`{"type":"pixel-v1","domain":"p.example.com"}`, false},
	} {
		r, err := DecodeRule("api", []byte(tc.in), "id")
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if r.Common().HTTPSOnly != tc.want {
			t.Errorf("%s: HTTPSOnly = %v, want %v", tc.in, r.Common().HTTPSOnly, tc.want)
		}
		b, err := EncodeRule(r)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), `"https-only":true`) != tc.want || strings.Contains(string(b), `"https-only":false`) {
			t.Errorf("EncodeRule = %s, want https-only written when, and only when, true", b)
		}
		again, err := DecodeRule("api", b, "id")
		if err != nil || again.Common().HTTPSOnly != tc.want {
			t.Errorf("round trip of %s: HTTPSOnly %v, %v", b, again.Common().HTTPSOnly, err)
		}
	}
	if _, err := DecodeRule("api", []byte(`{"type":"pixel-v1","domain":"p.example.com","https-only":"yes"}`), "id"); err == nil || !strings.Contains(err.Error(), "https-only: must be true, false or null, not string") {
		t.Errorf("https-only as a string: %v, want a located error", err)
	}
}

// TestRuleDecoder: rules decoded by one RuleDecoder share their domain
// names' strings and decode as DecodeRule decodes them, each with its
// own errors.
func TestRuleDecoder(t *testing.T) {
	rule := func(path, target string) []byte {
		return []byte(`{"type":"file-v1","domain":"get.example.org","incoming-path":"` + path + `","outgoing-url":"` + target + `"}`)
	}
	dec := NewRuleDecoder()
	a, err := dec.Decode("a", rule("/a/{v}", "https://dl.example.net/a/{v}"), "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dec.Decode("bad", rule("/b/{v", "https://dl.example.net/b"), "bad"); err == nil || !strings.Contains(err.Error(), "unclosed") {
		t.Errorf("a bad rule: %v", err)
	}
	if _, err := dec.Decode("bad", rule("/c", "ftp://dl.example.net/c"), "bad"); err == nil || strings.Contains(err.Error(), "unclosed") {
		t.Errorf("a rule after a bad one reports %v, want its own problem only", err)
	}
	b, err := dec.Decode("b", rule("/b/{v}", "https://dl.example.net/b/{v}"), "b")
	if err != nil {
		t.Fatalf("a good rule after bad ones: %v", err)
	}
	if unsafe.StringData(a.Common().Domain) != unsafe.StringData(b.Common().Domain) {
		t.Error("two rules of one decoder keep two copies of their domain name")
	}
	alone, err := DecodeRule("b", rule("/b/{v}", "https://dl.example.net/b/{v}"), "b")
	if err != nil {
		t.Fatal(err)
	}
	x, _ := EncodeRule(b)
	y, _ := EncodeRule(alone)
	if string(x) != string(y) {
		t.Errorf("RuleDecoder decoded %s, DecodeRule %s", x, y)
	}
}

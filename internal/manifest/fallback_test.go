package manifest

import (
	"testing"
)

// TestFallbackFields decodes a fallback of every rule kind that takes
// one, and checks that encoding keeps it.
func TestFallbackFields(t *testing.T) {
	for _, c := range []struct {
		rule  string
		check func(Rule) bool
	}{
		{`{"type":"docker-v1","domain":"cr.test","package-id":"a","repository-name":"acme/a","registry":"ghcr.io","fallback":"http://127.0.0.1:5001"}`,
			func(r Rule) bool {
				f := r.(*DockerV1).Fallback
				return f.URL() == "http://127.0.0.1:5001" && f.Text == "http://127.0.0.1:5001"
			}},
		{`{"type":"docker-v2","domain":"cr.test","pattern":"tools/*","rule-id":"b","registry":"ghcr.io","fallback":"mirror.gcr.io"}`,
			func(r Rule) bool { return r.(*DockerV2).Fallback.URL() == "https://mirror.gcr.io" }},
		{`{"type":"npm-v1","domain":"npm.test","package-name":"left-pad","package-id":"c","fallback":"http://127.0.0.1:4873/npm"}`,
			func(r Rule) bool { return r.(*NPM).Fallback == "http://127.0.0.1:4873/npm/" }},
		{`{"type":"python-index-v1","domain":"py.test","package-name":"rocket","package-id":"d","fallback":"mirror.test"}`,
			func(r Rule) bool { return r.(*PythonIndex).Fallback == "https://mirror.test/simple/" }},
		{`{"type":"file-v1","domain":"get.test","incoming-path":"/{v}/x.tgz","outgoing-url":"https://github.com/acme/x/{v}/x.tgz","fallback":"https://mirror.test/x/{v}.tgz","package-id":"e"}`,
			func(r Rule) bool { return r.(*FileV1).Fallback.String() == "https://mirror.test/x/{v}.tgz" }},
		{`{"type":"file-v2","domain":"get.test","incoming-path":"/p/(?<name>.*)","outgoing-url":"https://dl.test/{name}","fallback":"https://mirror.test/{name}","package-id":"f"}`,
			func(r Rule) bool { return r.(*FileV2).Fallback.String() == "https://mirror.test/{name}" }},
	} {
		r, err := DecodeRule("api", []byte(c.rule), "")
		if err != nil {
			t.Errorf("%s: %v", c.rule, err)
			continue
		}
		if !c.check(r) {
			t.Errorf("%s: fallback not decoded as expected: %+v", c.rule, r)
		}
		b, err := EncodeRule(r)
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecodeRule("api", b, "")
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if b2, _ := EncodeRule(again); string(b2) != string(b) || !c.check(again) {
			t.Errorf("round trip changed the rule:\n got %s\nwant %s", b2, b)
		}
	}
}

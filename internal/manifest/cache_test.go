package manifest

import (
	"strings"
	"testing"
)

// TestCacheFields: "cache" and "mode": "cache" are read on docker,
// npm-v1 and python-index-v1 rules, kept through an encoding, and
// refused with a precise error when wrong.
func TestCacheFields(t *testing.T) {
	for _, c := range []struct {
		in     string
		cached func(Rule) bool
	}{
		{`{"type":"docker-v1","domain":"cr.example","repository-name":"a/b","registry":"ghcr.io","package-id":"p","mode":"cache"}`,
			func(r Rule) bool { return r.(*DockerV1).Cached() }},
		{`{"type":"docker-v2","domain":"cr.example","pattern":"a/*","registry":"ghcr.io","rule-id":"r","cache":true}`,
			func(r Rule) bool { return r.(*DockerV2).Cached() && r.(*DockerV2).Mode == DockerModeAuto }},
		{`{"type":"docker-v1","domain":"cr.example","repository-name":"a/b","registry":"ghcr.io","package-id":"p","always-proxy":true,"mode":"cache"}`,
			func(r Rule) bool { return r.(*DockerV1).Cached() }},
		{`{"type":"npm-v1","domain":"npm.example","package-name":"*","package-id":"p","mode":"cache"}`,
			func(r Rule) bool { return r.(*NPM).CacheMode }},
		{`{"type":"npm-v1","domain":"npm.example","package-name":"*","package-id":"p","always-proxy":true,"cache":true}`,
			func(r Rule) bool { return r.(*NPM).Cache && !r.(*NPM).CacheMode }},
		{`{"type":"python-index-v1","domain":"py.example","package-name":"*","package-id":"p","mode":"cache"}`,
			func(r Rule) bool { return r.(*PythonIndex).CacheMode }},
	} {
		r, err := DecodeRule("api", []byte(c.in), "")
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if !c.cached(r) {
			t.Errorf("%s: not read as cached", c.in)
		}
		b, err := EncodeRule(r)
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecodeRule("api", b, "")
		if err != nil || !c.cached(again) {
			t.Errorf("%s: the encoding %s lost the cache (%v)", c.in, b, err)
		}
	}
	for _, c := range []struct{ in, want string }{
		{`{"type":"npm-v1","domain":"npm.example","package-name":"*","package-id":"p","mode":"proxy"}`, `mode: unknown mode "proxy" (known modes: redirect, cache)`},
		{`{"type":"python-index-v1","domain":"py.example","package-name":"*","package-id":"p","mode":"fast"}`, `mode: unknown mode "fast"`},
		{`{"type":"docker-v1","domain":"cr.example","repository-name":"a/b","registry":"ghcr.io","package-id":"p","mode":"cached"}`, `known modes: auto, redirect, proxy, cache`},
		{`{"type":"docker-v1","domain":"cr.example","repository-name":"a/b","registry":"ghcr.io","package-id":"p","cache":"yes"}`, `cache`},
	} {
		_, err := DecodeRule("api", []byte(c.in), "")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("DecodeRule(%s) = %v, want an error containing %q", c.in, err, c.want)
		}
	}
}

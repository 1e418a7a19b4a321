package docker

import (
	"slices"
	"strings"
	"testing"
	"time"

	"portico/internal/gateway"
)

var pathCases = []struct {
	raw       string
	obj       string
	image     []string
	ref, rest string
}{
	{"/v2/a/b/manifests/latest", objManifest, []string{"a", "b"}, "latest", "/manifests/latest"},
	{"/v2/a/blobs/sha256:abc", objBlob, []string{"a"}, "sha256:abc", "/blobs/sha256:abc"},
	{"/v2/a/tags/list", objTags, []string{"a"}, "list", "/tags/list"},
	{"/v2/a/referrers/sha256:abc", objReferrers, []string{"a"}, "sha256:abc", "/referrers/sha256:abc"},
	{"/v2/a%2Fb/blobs/uploads/", objBlob, []string{"a/b"}, "uploads", "/blobs/uploads/"},
	{"/v2/", objPing, nil, "", ""},
	{"/v2/_catalog", objCatalog, nil, "", ""},
}

func TestParsePath(t *testing.T) {
	for _, tc := range pathCases {
		p, ok := parsePath(tc.raw, gateway.AppendSegments(nil, tc.raw))
		if !ok || p.object != tc.obj || !slices.Equal(p.image, tc.image) || p.reference != tc.ref || p.rest != tc.rest {
			t.Errorf("parsePath(%q) = %+v, %v", tc.raw, p, ok)
		}
	}
	for _, raw := range []string{"/v2/a/manifests", "/v2", "/v3/a/manifests/x", "/v2/a/b"} {
		if p, ok := parsePath(raw, gateway.AppendSegments(nil, raw)); ok {
			t.Errorf("parsePath(%q) = %+v, want no match", raw, p)
		}
	}
}

// FuzzParsePath: whatever the path, a parsed object is addressed by the
// raw path from its keyword on, which rebuilds the same object under
// another repository name.
func FuzzParsePath(f *testing.F) {
	for _, tc := range pathCases {
		f.Add(tc.raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if !strings.HasPrefix(raw, "/") {
			raw = "/" + raw
		}
		p, ok := parsePath(raw, gateway.AppendSegments(nil, raw))
		if !ok || p.object == objPing || p.object == objCatalog {
			return
		}
		if !strings.HasSuffix(raw, p.rest) || !strings.HasPrefix(p.rest, "/") {
			t.Fatalf("rest %q is not the tail of %q", p.rest, raw)
		}
		rebuilt := "/v2/" + escapeRepository("x/y") + p.rest
		q, ok := parsePath(rebuilt, gateway.AppendSegments(nil, rebuilt))
		if !ok || q.object != p.object || q.reference != p.reference || !slices.Equal(q.image, []string{"x", "y"}) {
			t.Fatalf("rebuilt %q parsed as %+v, want %s %q of x/y", rebuilt, q, p.object, p.reference)
		}
	})
}

// FuzzScopes: every parsed scope names a repository and grants something,
// and a scope written back parses to itself.
func FuzzScopes(f *testing.F) {
	for _, s := range []string{"repository:acme/app:pull", "repository:a:pull,push repository:b:*", "registry:catalog:*", "repository:x", "repository:gw.test:5000/a:pull"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, sc := range parseScopes([]string{s}) {
			if sc.name == "" || !(sc.pull || sc.push) {
				t.Fatalf("scope %+v from %q", sc, s)
			}
			actions := []string{}
			if sc.pull {
				actions = append(actions, "pull")
			}
			if sc.push {
				actions = append(actions, "push")
			}
			if strings.ContainsAny(sc.name, " \t\n") {
				continue
			}
			again := parseScopes([]string{"repository:" + sc.name + ":" + strings.Join(actions, ",")})
			if len(again) != 1 || again[0] != sc {
				t.Fatalf("scope %+v does not round-trip: %+v", sc, again)
			}
		}
	})
}

// FuzzChallenge: a parsed Bearer challenge always has a realm, and a
// challenge built from a realm and service parses back to them.
func FuzzChallenge(f *testing.F) {
	f.Add(`Bearer realm="https://auth.test/token",service="reg.test"`, "https://a.test/t", "svc")
	f.Add(`Basic realm="x"`, "http://x/y", "")
	f.Add(`Bearer realm=https://a,service=b, scope="repository:x:pull"`, "h", "s,1")
	f.Fuzz(func(t *testing.T, header, realm, service string) {
		if ch, err := parseChallenge([]string{header}); err == nil && ch.scheme == "bearer" && ch.realm == "" {
			t.Fatalf("bearer challenge without realm from %q", header)
		}
		if realm == "" || strings.ContainsAny(realm+service, "\"\\\r\n") {
			return
		}
		ch, err := parseChallenge([]string{`Bearer realm="` + realm + `",service="` + service + `"`})
		if err != nil || ch.realm != realm || ch.service != service {
			t.Fatalf("challenge for %q %q parsed as %+v, %v", realm, service, ch, err)
		}
	})
}

func TestSigner(t *testing.T) {
	s, err := NewSigner([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	s.now = func() time.Time { return now }
	tok, _ := s.issue(claims{Aud: "gw.test", Grants: []grant{{Name: "a/b"}, {Name: "c", Push: true}}})
	c, err := s.verify(tok, "gw.test")
	if err != nil || !c.allows("a/b", false) || c.allows("a/b", true) || !c.allows("c", true) || c.allows("d", false) {
		t.Fatalf("verify: %+v %v", c, err)
	}
	if _, err := s.verify(tok, "other.test"); err != errAudience {
		t.Errorf("other domain: %v", err)
	}
	if _, err := s.verify(tok[:len(tok)-2]+"AA", "gw.test"); err != errBadToken {
		t.Errorf("tampered: %v", err)
	}
	now = now.Add(DefaultTokenTTL)
	if _, err := s.verify(tok, "gw.test"); err != errExpired {
		t.Errorf("expired: %v", err)
	}
	if _, err := NewSigner([]byte("short")); err == nil {
		t.Error("short key accepted")
	}
}

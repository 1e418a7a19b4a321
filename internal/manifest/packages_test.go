package manifest

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestPackageRules(t *testing.T) {
	m, err := Load("testdata/packages.json")
	if err != nil {
		t.Fatal(err)
	}
	p0, p1, p2 := m.Rules[0].(*PythonIndex), m.Rules[1].(*PythonIndex), m.Rules[2].(*PythonIndex)
	if p0.IndexURL != DefaultPythonIndex || p0.CacheTTL != DefaultCacheTTL || p0.IndexText != "" {
		t.Errorf("defaults: %+v", p0)
	}
	if p1.IndexURL != "http://127.0.0.1:3141/root/pypi/+simple/" || p1.CacheTTL != 90*time.Second || p1.PackageName != "acme-*" {
		t.Errorf("python-index-v1 with fields: %+v", p1)
	}
	if p2.IndexURL != "https://pypi.internal.test/simple/" {
		t.Errorf("bare host: %q, want https and /simple/", p2.IndexURL)
	}
	n0, n1, n2 := m.Rules[3].(*NPM), m.Rules[4].(*NPM), m.Rules[5].(*NPM)
	if n0.Registry != DefaultNPMRegistry || n0.AlwaysProxy || n0.AllowPublish {
		t.Errorf("npm defaults: %+v", n0)
	}
	if n1.Registry != "http://127.0.0.1:4873/" || n1.CacheTTL != 0 || !n1.AlwaysProxy || !n1.AllowPublish {
		t.Errorf("npm with fields: %+v", n1)
	}
	if got := strings.Join(n1.TarballHosts, " "); got != "https://cdn.acme.dev http://127.0.0.1:4874 https://[::1]:8443" {
		t.Errorf("tarball-hosts: %q, want origins with a bare host meaning https", got)
	}
	if n0.TarballHosts != nil || n0.TarballHostsText != nil {
		t.Errorf("tarball-hosts absent: %#v", n0.TarballHosts)
	}
	if n2.Registry != "https://npm.internal.test/registry/" || n2.Extensions["x-note"] == nil {
		t.Errorf("npm bare host with path: %+v", n2)
	}
	out, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode("encoded", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	again, _ := Encode(back)
	if string(again) != string(out) {
		t.Errorf("round trip changed the manifest:\n%s\n%s", out, again)
	}
}

func TestPackageRuleErrors(t *testing.T) {
	for _, c := range []struct{ rule, want string }{
		{`{"type":"python-index-v1","domain":"a.test","package-id":"p"}`, "package-name: missing"},
		{`{"type":"python-index-v1","domain":"a.test","package-name":"a b","package-id":"p"}`, `character ' ' is not allowed`},
		{`{"type":"python-index-v1","domain":"a.test","package-name":"a[","package-id":"p"}`, "invalid pattern"},
		{`{"type":"python-index-v1","domain":"a.test","package-name":"a","package-id":"p","index-url":"ftp://x.test/"}`, "scheme must be http or https"},
		{`{"type":"python-index-v1","domain":"a.test","package-name":"a","package-id":"p","index-url":"https://u:p@x.test/"}`, "without user"},
		{`{"type":"python-index-v1","domain":"a.test","package-name":"a","package-id":"p","cache-ttl":"-1s"}`, "must not be negative"},
		{`{"type":"python-index-v1","domain":"a.test","package-name":"a","package-id":"p","cache-ttl":"1000h"}`, "at most"},
		{`{"type":"python-index-v1","domain":"a.test","package-name":"a","package-id":"p","cache-ttl":"10"}`, "invalid duration"},
		{`{"type":"npm-v1","domain":"a.test","package-name":"Upper","package-id":"p"}`, "invalid package name"},
		{`{"type":"npm-v1","domain":"a.test","package-name":"@acme","package-id":"p"}`, "scoped name"},
		{`{"type":"npm-v1","domain":"a.test","package-name":"acme/*","package-id":"p"}`, "invalid scope pattern"},
		{`{"type":"npm-v1","domain":"a.test","package-name":"x","package-id":"p","registry":"https://r.test/?a=1"}`, "without user, query or fragment"},
		{`{"type":"npm-v1","domain":"a.test","package-name":"x","package-id":"p","always-proxy":"yes"}`, "must be true, false or null"},
		{`{"type":"npm-v1","domain":"a.test","package-name":"x","package-id":"p","tarballs":"proxy"}`, "unknown field"},
		{`{"type":"npm-v1","domain":"a.test","package-name":"x","package-id":"p","tarball-hosts":"cdn.test"}`, "rules[0] (npm-v1): tarball-hosts: must be an array of strings"},
		{`{"type":"npm-v1","domain":"a.test","package-name":"x","package-id":"p","tarball-hosts":["cdn.test",7]}`, "tarball-hosts[1]: must be a string, not number"},
		{`{"type":"npm-v1","domain":"a.test","package-name":"x","package-id":"p","tarball-hosts":["cdn.test","ftp://cdn.test"]}`, `tarball-hosts[1]: invalid tarball host "ftp://cdn.test": scheme "ftp" is not http or https`},
		{`{"type":"npm-v1","domain":"a.test","package-name":"x","package-id":"p","tarball-hosts":["https://cdn.test/tarballs/"]}`, "tarball-hosts[0]: invalid tarball host \"https://cdn.test/tarballs/\": give a host, or a scheme, a host and a port, without a path"},
		{`{"type":"npm-v1","domain":"a.test","package-name":"x","package-id":"p","tarball-hosts":["https://u:p@cdn.test"]}`, "tarball-hosts[0]: invalid tarball host \"https://u:p@cdn.test\": the URL carries credentials"},
		{`{"type":"npm-v1","domain":"a.test","package-name":"x","package-id":"p","tarball-hosts":["*.cdn.test"]}`, `tarball-hosts[0]: invalid host "*.cdn.test"`},
		{`{"type":"npm-v1","domain":"a.test","package-name":"x","package-id":"p","tarball-hosts":["http://0x7f.1"]}`, "tarball-hosts[0]: invalid tarball host \"http://0x7f.1\": invalid IP address"},
		{`{"type":"npm-v1","domain":"a.test","package-name":"x","package-id":"p","tarball-hosts":["cdn.test:99999"]}`, "tarball-hosts[0]: invalid host \"cdn.test:99999\": bad port"},
	} {
		_, err := Decode("m.json", []byte(fmt.Sprintf(`{"rules":[%s]}`, c.rule)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.rule, err, c.want)
		}
	}
}

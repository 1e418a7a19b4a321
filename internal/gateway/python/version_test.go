package python

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"Rocket_Skates":    "rocket-skates",
		"rocket-skates":    "rocket-skates",
		"rocket.skates":    "rocket-skates",
		"Rocket__-.Skates": "rocket-skates",
		"numpy":            "numpy",
		"Django":           "django",
		"a--b":             "a-b",
		"zope.interface":   "zope-interface",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

var versionCases = []struct{ in, norm string }{
	{"1.0", "1.0"},
	{"v1.0", "1.0"},
	{"1.0.0", "1.0.0"},
	{"1!2.0", "1!2.0"},
	{"1.0a1", "1.0a1"},
	{"1.0-ALPHA.1", "1.0a1"},
	{"1.0b", "1.0b0"},
	{"1.0c1", "1.0rc1"},
	{"1.0.preview2", "1.0rc2"},
	{"1.0rc1", "1.0rc1"},
	{"1.0.post1", "1.0.post1"},
	{"1.0-1", "1.0.post1"},
	{"1.0rev", "1.0.post0"},
	{"1.0.dev3", "1.0.dev3"},
	{"1.0dev", "1.0.dev0"},
	{"1.0a1.post2.dev3", "1.0a1.post2.dev3"},
	{"1.0+ubuntu-1", "1.0+ubuntu.1"},
	{"1.0+Local.7", "1.0+local.7"},
	{" 2.0 ", "2.0"},
	{"99999999999999999999.1", "99999999999999999999.1"},
}

func TestParseVersion(t *testing.T) {
	for _, c := range versionCases {
		v, ok := ParseVersion(c.in)
		if !ok || v.String() != c.norm {
			t.Errorf("ParseVersion(%q) = %q, %v; want %q", c.in, v.String(), ok, c.norm)
		}
	}
	for _, bad := range []string{"", "1.", ".1", "1..0", "abc", "1.0+", "1.0+a..b", "1.0-", "1.0 a1", "1.0.tar.gz", "1.0a1b2"} {
		if v, ok := ParseVersion(bad); ok {
			t.Errorf("ParseVersion(%q) = %q, want invalid", bad, v)
		}
	}
}

// ascending is a list of versions in PEP 440 order, from the
// specification's examples.
var ascending = []string{
	"0.9", "1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12",
	"1.0b1.dev456", "1.0b2", "1.0b2.post345.dev456", "1.0b2.post345", "1.0rc1.dev456",
	"1.0rc1", "1.0", "1.0+abc.5", "1.0+abc.7", "1.0+5", "1.0.post456.dev34", "1.0.post456",
	"1.0.15", "1.1.dev1", "2.0", "1!0.1",
}

func TestCompareVersions(t *testing.T) {
	for i := range ascending {
		for j := range ascending {
			a, _ := ParseVersion(ascending[i])
			b, ok := ParseVersion(ascending[j])
			if !ok {
				t.Fatalf("%q does not parse", ascending[j])
			}
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := a.Compare(b); got != want {
				t.Errorf("compare(%s, %s) = %d, want %d", ascending[i], ascending[j], got, want)
			}
		}
	}
	a, _ := ParseVersion("1.0")
	b, _ := ParseVersion("1.0.0")
	if a.Compare(b) != 0 {
		t.Error("1.0 and 1.0.0 must be equal")
	}
}

func FuzzParseVersion(f *testing.F) {
	for _, c := range versionCases {
		f.Add(c.in)
	}
	for _, s := range ascending {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := ParseVersion(s)
		if !ok {
			return
		}
		// The normal form parses to itself and compares equal.
		n := v.String()
		w, ok := ParseVersion(n)
		if !ok || w.String() != n {
			t.Fatalf("%q normalizes to %q, which reparses as %q (%v)", s, n, w.String(), ok)
		}
		if v.Compare(w) != 0 || w.Compare(v) != 0 {
			t.Fatalf("%q and its normal form %q compare unequal", s, n)
		}
	})
}

func TestFileVersion(t *testing.T) {
	for _, c := range []struct{ project, file, want string }{
		{"rocket-skates", "rocket_skates-1.2.0-py3-none-any.whl", "1.2.0"},
		{"", "numpy-1.22.1-cp39-cp39-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "1.22.1"},
		{"", "pkg-2.0-1-py3-none-any.whl", "2.0"},
		{"numpy", "numpy-1.3.0.tar.gz", "1.3.0"},
		{"numpy", "numpy-1.8.0.zip", "1.8.0"},
		{"foo-bar", "foo-bar-2.0rc1.tar.gz", "2.0rc1"},
		{"Foo_Bar", "foo.bar-2.0.tar.gz", "2.0"},
		{"", "foo-bar-3.1.tar.gz", "3.1"},
		{"", "thing-1.0-py2.7.egg", "1.0"},
		{"", "old-1.0-RC1.tar.bz2", "1.0rc1"},
		{"", "odd-snapshot.tar.gz", ""},
		{"", "readme.txt", ""},
		{"", "bad-1.0.whl", ""},
	} {
		got, ok := FileVersion(c.project, c.file)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("FileVersion(%q, %q) = %q, %v; want %q", c.project, c.file, got, ok, c.want)
		}
	}
}

func TestNegotiate(t *testing.T) {
	const pip = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
	for _, c := range []struct {
		accept []string
		want   format
		ok     bool
	}{
		{nil, formatHTML, true},
		{[]string{pip}, formatV1JSON, true},
		{[]string{"text/html"}, formatHTML, true},
		{[]string{"*/*"}, formatHTML, true},
		{[]string{"application/*"}, formatV1HTML, true},
		{[]string{"application/vnd.pypi.simple.latest+json"}, formatV1JSON, true},
		{[]string{"application/vnd.pypi.simple.v1+html"}, formatV1HTML, true},
		{[]string{"application/vnd.pypi.simple.v1+json;q=0.5, text/html"}, formatHTML, true},
		{[]string{"text/html, application/vnd.pypi.simple.v1+json"}, formatV1JSON, true},
		{[]string{"application/vnd.pypi.simple.v1+json;q=0, */*"}, formatHTML, true},
		{[]string{"*/*;q=0.1, application/vnd.pypi.simple.v1+json;q=0"}, formatHTML, true},
		{[]string{"image/png"}, 0, false},
		{[]string{"application/vnd.pypi.simple.v1+json;q=0"}, 0, false},
		{[]string{"application/vnd.pypi.simple.v2+json"}, 0, false},
	} {
		got, ok := negotiate(c.accept)
		if ok != c.ok || ok && got != c.want {
			t.Errorf("negotiate(%q) = %v, %v; want %v, %v", c.accept, got, ok, c.want, c.ok)
		}
	}
}

func TestETagMatches(t *testing.T) {
	const etag = `"abc="`
	for h, want := range map[string]bool{
		`"abc="`:         true,
		`abc=`:           true,
		`W/"abc="`:       true,
		`*`:              true,
		`"x", "abc="`:    true,
		`"x" , W/"abc="`: true,
		`"abc"`:          false,
		`"x"`:            false,
		``:               false,
	} {
		if got := etagMatches(h, etag); got != want {
			t.Errorf("etagMatches(%q) = %v, want %v", h, got, want)
		}
	}
}

const sampleHTML = `<!DOCTYPE html>
<html><head><meta name="pypi:repository-version" content="1.1"><title>Links</title></head>
<body><h1>Links for rocket-skates</h1>
<!-- <a href="commented.whl">commented.whl</a> -->
<a href="../../packages/rocket_skates-1.0-py3-none-any.whl#sha256=abcd" data-requires-python="&gt;=3.8" data-dist-info-metadata="sha256=ef01">rocket_skates-1.0-py3-none-any.whl</a><br/>
<A HREF='https://files.example/rocket-skates-1.0.tar.gz' data-yanked="broken &amp; bad">rocket-skates-1.0.tar.gz</A>
<a href=https://files.example/rocket-skates-0.9.tar.gz data-gpg-sig=true data-core-metadata=true>
  rocket-skates-0.9.tar.gz </a>
</body></html>`

func TestParseHTMLPage(t *testing.T) {
	base, _ := url.Parse("https://index.example/simple/rocket-skates/")
	p, err := parseHTMLPage(context.Background(), base, []byte(sampleHTML))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.links) != 3 {
		t.Fatalf("%d links, want 3: %+v", len(p.links), p.links)
	}
	a, b, c := p.links[0], p.links[1], p.links[2]
	if a.name != "rocket_skates-1.0-py3-none-any.whl" || a.url != "https://index.example/packages/rocket_skates-1.0-py3-none-any.whl" ||
		!slices.Equal(a.hashes, []hashPair{{"sha256", "abcd"}}) || a.requiresPython == nil || *a.requiresPython != ">=3.8" ||
		!a.coreMetadata || !slices.Equal(a.metadataHashes, []hashPair{{"sha256", "ef01"}}) || a.yanked {
		t.Errorf("first link %+v", a)
	}
	if b.name != "rocket-skates-1.0.tar.gz" || !b.yanked || b.yankedReason != "broken & bad" || b.url != "https://files.example/rocket-skates-1.0.tar.gz" {
		t.Errorf("second link %+v", b)
	}
	if c.name != "rocket-skates-0.9.tar.gz" || c.gpgSig == nil || !*c.gpgSig || !c.coreMetadata || len(c.metadataHashes) != 0 {
		t.Errorf("third link %+v", c)
	}
	if _, err := parseHTMLPage(context.Background(), base, []byte(`<meta name="pypi:repository-version" content="2.0">`)); err == nil {
		t.Error("a page of repository version 2.0 must be refused (PEP 629)")
	}
	if _, err := parseHTMLPage(context.Background(), base, []byte(`<a href="file:///etc/passwd">x.whl</a>`)); err == nil {
		t.Error("a file: link must be refused")
	}
}

func TestParseJSONPage(t *testing.T) {
	base, _ := url.Parse("https://index.example/simple/rocket-skates/")
	body := `{"meta":{"api-version":"1.1"},"name":"Rocket_Skates","versions":["1.0"],"files":[
	 {"filename":"rocket_skates-1.0-py3-none-any.whl","url":"/f/r.whl","hashes":{"md5":"aa","sha256":"bb"},"requires-python":">=3.8","core-metadata":{"sha256":"cc"},"size":10,"upload-time":"2026-01-01T00:00:00Z"},
	 {"filename":"rocket-skates-1.0.tar.gz","url":"https://files.example/r.tgz","hashes":{},"yanked":"oops","dist-info-metadata":true,"gpg-sig":false}]}`
	p, err := parseJSONPage(base, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	a, b := p.links[0], p.links[1]
	if a.url != "https://index.example/f/r.whl" || a.hashes[0] != (hashPair{"sha256", "bb"}) || a.size != 10 || !a.coreMetadata || a.metadataHashes[0].value != "cc" {
		t.Errorf("first file %+v", a)
	}
	if !b.yanked || b.yankedReason != "oops" || !b.coreMetadata || b.gpgSig == nil || *b.gpgSig || b.size != -1 {
		t.Errorf("second file %+v", b)
	}
	for _, bad := range []string{
		`{"meta":{"api-version":"2.0"},"files":[]}`,
		`{"files":[{"filename":"../x","url":"/x","hashes":{}}]}`,
		`{"files":[{"filename":"x.whl","url":"javascript:alert(1)","hashes":{}}]}`,
		`{"files":[{"filename":"x.whl","url":"/x","hashes":{},"yanked":3}]}`,
		`[1]`,
	} {
		if _, err := parseJSONPage(base, []byte(bad)); err == nil {
			t.Errorf("%s: want an error", bad)
		}
	}
}

// FuzzParseHTMLPage checks that any page parses without panicking and
// that every link it yields is an absolute http(s) URL without fragment,
// with a file name that is not a path.
func FuzzParseHTMLPage(f *testing.F) {
	f.Add(sampleHTML)
	f.Add(`<a href="x.whl#sha256=1">x.whl</a>`)
	f.Add(`<a href='`)
	f.Add(`<a href=x>`)
	f.Add(`<!-- <a href="x">`)
	base, _ := url.Parse("https://index.example/simple/p/")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseHTMLPage(context.Background(), base, []byte(s))
		if err != nil {
			return
		}
		for _, l := range p.links {
			u, err := url.Parse(l.url)
			if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || strings.Contains(l.url, "#") {
				t.Fatalf("link URL %q is not an absolute http(s) URL without fragment", l.url)
			}
			if l.name == "" || strings.ContainsAny(l.name, "/\\") {
				t.Fatalf("file name %q", l.name)
			}
		}
		// Every link comes from an anchor of the page.
		if n := strings.Count(strings.ToLower(s), "<a"); len(p.links) > n {
			t.Fatalf("%d links from a page with %d anchors", len(p.links), n)
		}
	})
}

// FuzzHTMLPageRoundTrip checks that the parser reads back exactly what
// Portico's own renderer writes: file names, URLs, hashes and every
// data attribute, whatever characters they hold.
func FuzzHTMLPageRoundTrip(f *testing.F) {
	f.Add("rocket_skates-1.0-py3-none-any.whl", ">=3.8", "broken & bad", "sha256=ef01", true, true, true)
	f.Add("a<b>&\"'.tar.gz", "", "", "", false, false, false)
	f.Add(" x .zip", "<a href=x>", "</a>", "true", false, true, true)
	base, _ := url.Parse("https://index.example/simple/p/")
	f.Fuzz(func(t *testing.T, name, requiresPython, yankedReason, metadata string, yanked, gpg, hasRequires bool) {
		if name == "" || strings.TrimSpace(name) != name || strings.ContainsAny(name, "/\\") || !utf8.ValidString(name) {
			return // not a file name an index lists
		}
		for _, v := range []string{name, requiresPython, yankedReason, metadata} {
			// HTML turns these into other characters in any text.
			if strings.ContainsAny(v, "\x00\r") {
				return
			}
		}
		sum := sha256.Sum256([]byte(name))
		d := &dist{name: name, hashes: []hashPair{{"sha256", hex.EncodeToString(sum[:])}}, yanked: yanked, yankedReason: yankedReason}
		if gpg {
			d.gpgSig = &yanked
		}
		if hasRequires {
			d.requiresPython = &requiresPython
		}
		if metadata != "" && metadata != "false" {
			d.coreMetadata = true
			if k, h, ok := strings.Cut(metadata, "="); ok && k != "" && h != "" {
				d.metadataHashes = []hashPair{{k, h}}
			}
		}
		other := &dist{name: "other-1.0.tar.gz"}
		prj := &project{name: "p", norm: "p", files: []*dist{d, other}}
		page := projectHTML(prj, true)
		got, err := parseHTMLPage(context.Background(), base, []byte(page))
		if err != nil {
			t.Fatalf("parse of a rendered page: %v\n%s", err, page)
		}
		if len(got.links) != 2 || got.links[1].name != other.name {
			t.Fatalf("%d links, want 2: %+v\n%s", len(got.links), got.links, page)
		}
		l := got.links[0]
		wantURL, _ := base.Parse(fileHref(prj, d))
		if l.name != name || l.url != wantURL.String() || !slices.Equal(l.hashes, d.hashes) {
			t.Fatalf("link %+v, want name %q url %q hashes %v\n%s", l, name, wantURL, d.hashes, page)
		}
		if l.yanked != yanked || yanked && l.yankedReason != yankedReason {
			t.Fatalf("yanked %v %q, want %v %q", l.yanked, l.yankedReason, yanked, yankedReason)
		}
		if (l.gpgSig != nil) != gpg || gpg && *l.gpgSig != yanked {
			t.Fatalf("gpg-sig %v, want %v", l.gpgSig, d.gpgSig)
		}
		if (l.requiresPython != nil) != hasRequires || hasRequires && *l.requiresPython != requiresPython {
			t.Fatalf("requires-python %v, want %q", l.requiresPython, requiresPython)
		}
		if l.coreMetadata != d.coreMetadata || !slices.Equal(l.metadataHashes, d.metadataHashes) {
			t.Fatalf("core metadata %v %v, want %v %v", l.coreMetadata, l.metadataHashes, d.coreMetadata, d.metadataHashes)
		}
	})
}

// FuzzNegotiate checks that negotiation never panics and that a header
// naming one format exactly, with the highest quality, gets it.
func FuzzNegotiate(f *testing.F) {
	f.Add("application/vnd.pypi.simple.v1+json, text/html;q=0.01", uint8(0))
	f.Add("*/*", uint8(1))
	f.Add("text/*;q=0.3", uint8(2))
	f.Fuzz(func(t *testing.T, accept string, pick uint8) {
		negotiate([]string{accept})
		want := format(pick % uint8(numFormats))
		got, ok := negotiate([]string{formatTypes[want] + ";q=1, " + accept})
		if !ok {
			t.Fatalf("%q names a format and was refused", accept)
		}
		if got != want && !strings.Contains(strings.ToLower(accept), formatTypes[got]) && !strings.Contains(strings.ToLower(accept), "latest") {
			t.Fatalf("Accept %q: got %s, want %s", formatTypes[want]+", "+accept, formatTypes[got], formatTypes[want])
		}
	})
}

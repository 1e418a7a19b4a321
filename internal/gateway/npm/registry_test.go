package npm_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestDocuments checks the documents Portico serves: both spellings of a
// scoped name, full and abbreviated documents (abbreviated here from an
// upstream that only has full ones), version documents by version and by
// dist-tag, and integrity and shasum left as the upstream wrote them.
func TestDocuments(t *testing.T) {
	f := newNPMFixtures(t)
	f.up.fullOnly = true
	p := startPortico(t, npmManifest(f, ""))
	reg := p.srv.URL + "/"

	type version struct {
		Name        string            `json:"name"`
		Version     string            `json:"version"`
		Readme      string            `json:"readme"`
		Description string            `json:"description"`
		Deps        map[string]string `json:"dependencies"`
		Dist        struct{ Tarball, Integrity, Shasum string }
	}
	type doc struct {
		Name     string             `json:"name"`
		DistTags map[string]string  `json:"dist-tags"`
		Versions map[string]version `json:"versions"`
		Readme   string             `json:"readme"`
		Time     map[string]string  `json:"time"`
	}
	var full, abbrev doc
	resp, body := fetch(t, "GET", reg+"@acme%2frocket-skates")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || json.Unmarshal([]byte(body), &full) != nil {
		t.Fatalf("full document: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	resp2, body2 := fetch(t, "GET", reg+"@acme/rocket-skates")
	if resp2.StatusCode != 200 || body2 != body || resp2.Header.Get("ETag") != resp.Header.Get("ETag") {
		t.Errorf("@acme/rocket-skates and @acme%%2frocket-skates differ")
	}
	if full.Readme == "" || full.Time == nil || full.Versions["1.1.0"].Description == "" {
		t.Errorf("full document lost fields: %+v", full)
	}
	resp, body = fetch(t, "GET", reg+"@acme%2frocket-skates", "Accept", "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.npm.install-v1+json" || json.Unmarshal([]byte(body), &abbrev) != nil {
		t.Fatalf("abbreviated document: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if abbrev.Readme != "" || abbrev.Time != nil || abbrev.Versions["1.1.0"].Description != "" || abbrev.Versions["1.1.0"].Deps["wheelie"] != "^0.2.0" {
		t.Errorf("abbreviated document: %+v", abbrev)
	}
	if resp.Header.Get("ETag") == resp2.Header.Get("ETag") {
		t.Error("full and abbreviated documents share an ETag")
	}
	for _, d := range []doc{full, abbrev} {
		if d.DistTags["latest"] != "1.1.0" || d.DistTags["beta"] != "1.0.0" {
			t.Errorf("dist-tags %v", d.DistTags)
		}
		for _, v := range []*pkgVersion{f.rocketOld, f.rocket} {
			got := d.Versions[v.version].Dist
			want := reg + "@acme/rocket-skates/-/" + v.file()
			if got.Tarball != want || got.Integrity != v.integrity() || got.Shasum != v.shasum() {
				t.Errorf("dist of %s: %+v, want tarball %s and the upstream's integrity and shasum", v.version, got, want)
			}
		}
	}
	// Revalidation.
	if resp, _ := fetch(t, "GET", reg+"@acme/rocket-skates", "If-None-Match", resp2.Header.Get("ETag")); resp.StatusCode != 304 {
		t.Errorf("If-None-Match with the current ETag: %d, want 304", resp.StatusCode)
	}
	// The host the client used is the one in tarball URLs.
	_, body = fetch(t, "GET", reg+"@acme/rocket-skates", "Host", "127.0.0.1:9")
	if !strings.Contains(body, `"tarball":"http://127.0.0.1:9/@acme/rocket-skates/-/rocket-skates-1.1.0.tgz"`) {
		t.Errorf("tarball URL does not follow the Host header:\n%s", body)
	}

	// Version documents.
	for spec, want := range map[string]string{"1.0.0": "1.0.0", "beta": "1.0.0", "latest": "1.1.0"} {
		var v version
		resp, body := fetch(t, "GET", reg+"@acme/rocket-skates/"+spec)
		if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &v) != nil || v.Version != want || v.Dist.Tarball != reg+"@acme/rocket-skates/-/rocket-skates-"+want+".tgz" {
			t.Errorf("version document %s: %d %s", spec, resp.StatusCode, body)
		}
	}
	if resp, _ := fetch(t, "GET", reg+"@acme/rocket-skates/9.9.9"); resp.StatusCode != 404 {
		t.Errorf("unknown version: %d", resp.StatusCode)
	}

	// Tarballs redirect to the upstream's.
	resp, _ = fetch(t, "GET", reg+"@acme/rocket-skates/-/rocket-skates-1.0.0.tgz")
	if want := f.up.srv.URL + "/@acme/rocket-skates/-/rocket-skates-1.0.0.tgz"; resp.StatusCode != 307 || resp.Header.Get("Location") != want {
		t.Errorf("tarball: %d %q, want 307 to %s", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	if resp, body := fetch(t, "GET", reg+"@acme/rocket-skates/-/rocket-skates-6.6.6.tgz"); resp.StatusCode != 404 || !strings.Contains(body, "not listed") {
		t.Errorf("unknown tarball: %d %s", resp.StatusCode, body)
	}
	events := p.rec.all()
	var objects []string
	for _, e := range events {
		objects = append(objects, e.NPM.Object+"@"+e.NPM.Version)
	}
	if got := strings.Join(objects, " "); !strings.Contains(got, "version@1.0.0") || !strings.Contains(got, "tarball@1.0.0") || p.rec.downloads("@acme/rocket-skates") != 1 {
		t.Errorf("events: %s; want one tarball download", got)
	}
}

func TestOtherEndpoints(t *testing.T) {
	f := newNPMFixtures(t)
	p := startPortico(t, npmManifest(f, ""))
	reg := p.srv.URL + "/"
	for _, c := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "-/ping", 200, "{}"},
		{"GET", "-/v1/search?text=x", 404, "not offered"},
		{"POST", "-/npm/v1/security/advisories/bulk", 405, "not offered"},
		{"PUT", "@acme%2frocket-skates", 405, "not allowed"},
		{"DELETE", "@acme/rocket-skates/-rev/1-abc", 405, "not possible"},
		{"PUT", "lodash", 405, "not served by this registry"},
		{"GET", "@acme/unknown-package", 404, "not on the upstream registry"},
		{"GET", "lodash", 307, ""},
		{"GET", "@acme/rocket-skates/a/b/c", 404, "not found"},
	} {
		resp, body := fetch(t, c.method, reg+c.path)
		if resp.StatusCode != c.status || !strings.Contains(body, c.body) {
			t.Errorf("%s /%s: %d %q, want %d with %q", c.method, c.path, resp.StatusCode, body, c.status, c.body)
		}
	}
	if n := len(p.rec.all()); n != 1 {
		t.Errorf("%d events, want 1 (the redirect of lodash to the upstream); refusals are not counted", n)
	}
}

func TestAlwaysProxy(t *testing.T) {
	f := newNPMFixtures(t)
	p := startPortico(t, npmManifest(f, `,"always-proxy":true`))
	reg := p.srv.URL + "/"
	fetch(t, "GET", reg+"@acme/rocket-skates")
	resp, body := fetch(t, "GET", reg+"@acme/rocket-skates/-/rocket-skates-1.1.0.tgz")
	if resp.StatusCode != 200 || !bytes.Equal([]byte(body), f.rocket.tgz) {
		t.Fatalf("proxied tarball: %d, %d bytes, want the upstream's %d", resp.StatusCode, len(body), len(f.rocket.tgz))
	}
	ev := p.rec.all()
	if last := ev[len(ev)-1]; last.Outcome.String() != "proxy" || last.NPM.Version != "1.1.0" {
		t.Errorf("event %+v", last)
	}
}

func TestManifestRejectsBadRules(t *testing.T) {
	for _, r := range []string{
		`{"type":"npm-v1","domain":"a.test","package-name":"Bad Name","package-id":"x"}`,
		`{"type":"npm-v1","domain":"a.test","package-name":"@acme","package-id":"x"}`,
		`{"type":"npm-v1","domain":"a.test","package-name":"x","package-id":"x","registry":"ftp://r.test"}`,
		`{"type":"npm-v1","domain":"a.test","package-name":"x","package-id":"x","cache-ttl":"soon"}`,
		`{"type":"npm-v1","domain":"a.test","package-name":"x","package-id":"x","registry":"https://r.test/?q=1"}`,
	} {
		if _, err := decodeManifest(fmt.Sprintf(`{"rules":[%s]}`, r)); err == nil {
			t.Errorf("%s: accepted", r)
		}
	}
}

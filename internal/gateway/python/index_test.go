package python_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

func fetch(t *testing.T, method, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// TestPackageLevelPages checks the pages a python-index-v1 rule makes
// from an upstream page, in HTML (from an HTML-only upstream) and JSON
// (from a JSON upstream).
func TestPackageLevelPages(t *testing.T) {
	for _, htmlOnly := range []bool{true, false} {
		t.Run(fmt.Sprintf("htmlOnly=%v", htmlOnly), func(t *testing.T) {
			f := newFixtures(t)
			f.up.htmlOnly = htmlOnly
			p := startPortico(t, fmt.Sprintf(`{"rules":[{"type":"python-index-v1","domain":"127.0.0.1","package-name":"rocket*","package-id":"pkg-rs","index-url":%q,"cache-ttl":"10m"}]}`, f.up.srv.URL+"/simple/"))
			base := p.srv.URL + "/simple/rocket-skates/"

			resp, body := fetch(t, "GET", base)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html" || resp.Header.Get("Cache-Control") != "max-age=600, public" {
				t.Fatalf("HTML page: %d %v", resp.StatusCode, resp.Header)
			}
			for _, want := range []string{
				`<meta name="pypi:repository-version" content="1.0">`,
				`<a href="/simple/rocket-skates/` + f.rocket.name + `#sha256=` + f.rocket.sha256() + `" data-requires-python="&gt;=3.8" data-dist-info-metadata="sha256=`,
				`>` + f.rocketSdist.name + `</a>`,
			} {
				if !strings.Contains(body, want) {
					t.Errorf("HTML page lacks %q:\n%s", want, body)
				}
			}
			// Newest version first.
			if strings.Index(body, f.rocket.name) > strings.Index(body, f.rocketOld.name) {
				t.Errorf("1.0 is listed after 0.9:\n%s", body)
			}
			etag := resp.Header.Get("ETag")
			if resp, _ := fetch(t, "GET", base, "If-None-Match", "W/"+etag); resp.StatusCode != 304 {
				t.Errorf("revalidation with the weak form of the ETag: %d, want 304", resp.StatusCode)
			}

			resp, body = fetch(t, "GET", base, "Accept", "application/vnd.pypi.simple.v1+json")
			var doc struct {
				Meta  map[string]string `json:"meta"`
				Files []struct {
					Filename     string            `json:"filename"`
					URL          string            `json:"url"`
					Hashes       map[string]string `json:"hashes"`
					RequiresPy   string            `json:"requires-python"`
					CoreMetadata any               `json:"core-metadata"`
				} `json:"files"`
			}
			if err := json.Unmarshal([]byte(body), &doc); err != nil || resp.Header.Get("Content-Type") != "application/vnd.pypi.simple.v1+json" {
				t.Fatalf("JSON page: %v %s\n%s", err, resp.Header.Get("Content-Type"), body)
			}
			if len(doc.Files) != 3 || doc.Files[0].Filename != f.rocket.name || doc.Files[0].URL != "/simple/rocket-skates/"+f.rocket.name ||
				doc.Files[0].Hashes["sha256"] != f.rocket.sha256() || doc.Files[0].RequiresPy != ">=3.8" || doc.Files[0].CoreMetadata == nil {
				t.Errorf("JSON page files: %+v", doc.Files)
			}
			if want := map[bool]string{true: "1.0", false: "1.1"}[htmlOnly]; doc.Meta["api-version"] != want {
				t.Errorf("api-version %q, want %q (1.1 only when the upstream gave sizes)", doc.Meta["api-version"], want)
			}

			// Downloads redirect to the upstream file, hash fragment kept.
			resp, _ = fetch(t, "GET", base+f.rocket.name)
			if want := f.up.srv.URL + "/files/" + f.rocket.name + "#sha256=" + f.rocket.sha256(); resp.StatusCode != 307 || resp.Header.Get("Location") != want {
				t.Errorf("file: %d %q, want 307 to %q", resp.StatusCode, resp.Header.Get("Location"), want)
			}
			resp, _ = fetch(t, "GET", base+f.rocket.name+".metadata")
			if want := f.up.srv.URL + "/files/" + f.rocket.name + ".metadata"; resp.StatusCode != 307 || resp.Header.Get("Location") != want {
				t.Errorf("metadata: %d %q, want 307 to %q", resp.StatusCode, resp.Header.Get("Location"), want)
			}
			resp, body = fetch(t, "GET", base+"rocket_skates-9.9-py3-none-any.whl")
			if resp.StatusCode != 404 || !strings.Contains(body, "not listed") {
				t.Errorf("unknown file: %d %q", resp.StatusCode, body)
			}
			resp, body = fetch(t, "GET", p.srv.URL+"/simple/rocketry/")
			if resp.StatusCode != 404 || !strings.Contains(body, "not on the upstream index") {
				t.Errorf("project the upstream lacks: %d %q", resp.StatusCode, body)
			}
			// Another project goes to the upstream index.
			resp, _ = fetch(t, "GET", p.srv.URL+"/simple/wheelie/")
			if want := f.up.srv.URL + "/simple/wheelie/"; resp.StatusCode != 307 || resp.Header.Get("Location") != want {
				t.Errorf("unknown project: %d %q, want 307 to %q", resp.StatusCode, resp.Header.Get("Location"), want)
			}
			if n := p.rec.downloads("rocket-skates"); n != 1 {
				t.Errorf("%d downloads, want 1 (metadata and pages are not downloads)", n)
			}
			// The upstream was asked once for the page (and once for
			// rocketry, which it lacks).
			if n := f.up.pages.Load(); n != 2 {
				t.Errorf("upstream served %d pages, want 2", n)
			}
		})
	}
}

// TestCacheSurvivesReload swaps in a new table compiled from the same
// manifest: the upstream page is not fetched again.
func TestCacheSurvivesReload(t *testing.T) {
	f := newFixtures(t)
	m := fmt.Sprintf(`{"rules":[{"type":"python-index-v1","domain":"127.0.0.1","package-name":"rocket-skates","package-id":"pkg-rs","index-url":%q}]}`, f.up.srv.URL+"/simple/")
	p := startPortico(t, m)
	fetch(t, "GET", p.srv.URL+"/simple/rocket-skates/")
	p.router.Swap(p.compile(t, m))
	resp, _ := fetch(t, "GET", p.srv.URL+"/simple/rocket-skates/")
	if resp.StatusCode != 200 || resp.Header.Get("X-Portico-Cache") != "fresh" || f.up.pages.Load() != 1 {
		t.Errorf("after a reload: %d, cache %q, upstream pages %d; want 200 from the fresh cached page", resp.StatusCode, resp.Header.Get("X-Portico-Cache"), f.up.pages.Load())
	}
}

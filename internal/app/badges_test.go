package app

import (
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestBadges: a package's badges count its downloads as its statistics
// do, by id and by organization and name, on the app listener and on
// the gateway listener for paths no rule answers; an unknown package
// gets a "not found" badge with status 404.
func TestBadges(t *testing.T) {
	cfg := testConfig(t)
	cfg.Control.BaseDomain = "gw.test"
	a := startApp(t, cfg)
	tok, org := adminToken(t, a.App, "ops@acme.test")
	host := org + ".gw.test"
	gw := a.gw.Addr().String()
	st, body := call(t, a.App, tok, "POST", "/api/v1/packages", map[string]any{"org": org, "name": "Rocket", "rule": fileRule(host, "dl.test")})
	if st != http.StatusCreated {
		t.Fatalf("create = %d %s", st, body)
	}
	id := jsonField(t, body, "id")
	for _, v := range []string{"1.0", "1.1", "1.2"} {
		if st, _ := download(t, gw, host, "/rocket/"+v+".tar.gz"); st != http.StatusTemporaryRedirect {
			t.Fatalf("download %s = %d", v, st)
		}
	}
	waitStats(t, a.App, tok, id, 3)

	app := a.app.Addr().String()
	for _, tc := range []struct {
		name, addr, host, path string
		status                 int
		text                   string
	}{
		{"by id, app listener", app, "", "/package/installs-badge/" + id, 200, "installs: 3"},
		{"by name, app listener", app, "", "/installs-badge/" + org + "/rocket?package-type=file", 200, "installs: 3"},
		{"by id, gateway", gw, host, "/package/installs-badge/" + id, 200, "installs: 3"},
		{"by id, a manifest domain's gateway", gw, "a.test", "/package/installs-badge/" + id, 200, "installs: 3"},
		{"manifest package, no downloads", app, "", "/package/installs-badge/p", 200, "installs: 0"},
		{"wrong package type", app, "", "/installs-badge/" + org + "/rocket?package-type=docker", 404, "not found"},
		{"unknown package", gw, host, "/package/installs-badge/nope", 404, "not found"},
		{"unknown organization", app, "", "/installs-badge/nobody/rocket", 404, "not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest("GET", "http://"+tc.addr+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.host != "" {
				req.Host = tc.host
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), "image/svg+xml") {
				t.Fatalf("%s = %d %s, want %d and an SVG", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.status)
			}
			var svg struct {
				Title string `xml:"title"`
			}
			if err := xml.Unmarshal(data, &svg); err != nil {
				t.Fatalf("not XML: %v\n%s", err, data)
			}
			if !strings.Contains(strings.ToLower(svg.Title), tc.text) {
				t.Errorf("badge title %q, want it to say %q", svg.Title, tc.text)
			}
		})
	}
}

package route_test

import "testing"

// TestDotSegmentsInOutgoingURL checks that a request cannot use a
// variable to climb out of the outgoing URL's path: such a request
// matches no rule (404, like any path no rule takes), unless the rule
// sets allow-dot-segments.
func TestDotSegmentsInOutgoingURL(t *testing.T) {
	js := `{"rules":[
	 {"type":"file-v1","domain":"f.test","incoming-path":"/plus/{+path}","outgoing-url":"https://cdn.example.com/base/{+path}","package-id":"p1"},
	 {"type":"file-v1","domain":"f.test","incoming-path":"/rel/{+path}","outgoing-url":"https://github.com/acme/rocket/releases/download/{+path}","package-id":"p2"},
	 {"type":"file-v1","domain":"f.test","incoming-path":"/simple/{v}/{f}","outgoing-url":"https://cdn.example.com/base/{v}/{f}","package-id":"p3"},
	 {"type":"file-v2","domain":"f.test","incoming-path":"^/re/(?P<rest>.*)$","outgoing-url":"https://cdn.example.com/re/{+rest}","package-id":"p4"},
	 {"type":"file-v1","domain":"f.test","incoming-path":"/open/{+path}","outgoing-url":"https://cdn.example.com/open/{+path}","allow-dot-segments":true,"package-id":"p5"}]}`
	addr, rec := rawServer(t, js, "")
	tests := []struct {
		path     string
		location string // "" for 404
	}{
		{"/plus/a/b.tar.gz", "https://cdn.example.com/base/a/b.tar.gz"},
		{"/plus/..%2F..%2Fx", ""},
		{"/plus/..%2f..%2fx", ""},
		{"/plus/../../x", ""},
		{"/plus/a/../../x", ""},
		{"/plus/%2e%2E/x", ""},
		{"/plus/%2E%2e%2Fx", ""},
		{"/plus/.%2e/x", ""},
		{"/plus/./x", ""},
		{"/plus/x/.", ""},
		{"/plus/..", ""},
		{"/plus/..%5Cx", ""},
		{"/plus/...", "https://cdn.example.com/base/..."},
		{"/plus/a..b/v1.0", "https://cdn.example.com/base/a..b/v1.0"},
		{"/rel/v1.0/rocket.tar.gz", "https://github.com/acme/rocket/releases/download/v1.0/rocket.tar.gz"},
		{"/rel/..%2F..%2F..%2Fevil%2Fpayload%2Freleases%2Fdownload%2Fv1%2Fx", ""},
		{"/rel/../../../evil/payload/releases/download/v1/x", ""},
		{"/simple/../x", ""},
		{"/simple/%2e%2e/x", ""},
		{"/simple/v1.0/x", "https://cdn.example.com/base/v1.0/x"},
		{"/re/a/b", "https://cdn.example.com/re/a/b"},
		{"/re/../x", ""},
		{"/re/%2e%2e/x", "https://cdn.example.com/re/%252e%252e/x"},
		{"/open/../x", "https://cdn.example.com/open/../x"},
		{"/open/..%2Fx", "https://cdn.example.com/open/../x"},
	}
	for _, tt := range tests {
		resp := rawGet(t, addr, tt.path, "Host", "f.test")
		want := 307
		if tt.location == "" {
			want = 404
		}
		if resp.StatusCode != want || resp.Header.Get("Location") != tt.location {
			t.Errorf("%s: %d %q, want %d %q", tt.path, resp.StatusCode, resp.Header.Get("Location"), want, tt.location)
		}
	}
	for _, e := range rec.All() {
		if e.Status != 307 {
			t.Errorf("event for a refused request: %+v", e)
		}
	}
}

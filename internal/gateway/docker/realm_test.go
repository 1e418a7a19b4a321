package docker_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"portico/internal/clientip"
	"portico/internal/route"
)

// TestTokenRealmHost checks the realm of Portico's Bearer challenge: the
// domain's canonical name with the port the client used, from Host or a
// trusted proxy's X-Forwarded-Host, and never text that is not a host.
func TestTokenRealmHost(t *testing.T) {
	// A renamed image makes Portico run the auth handshake.
	js := manifestOf(v1Rule("acme/rocket", "reg.test", `"upstream-repository":"other/rocket"`))
	opts := newOptions(t)
	trusting := httptest.NewServer(routeRouter(compile(t, js, opts)))
	t.Cleanup(trusting.Close)
	distrusted, _ := clientip.ParseTrusted("192.0.2.1")
	distrusting := httptest.NewServer(route.NewRouter(compile(t, js, opts), distrusted, &recorder{}, nil))
	t.Cleanup(distrusting.Close)

	tests := []struct {
		name    string
		srv     *httptest.Server
		headers []string
		status  int
		realm   string
	}{
		{"plain", trusting, []string{"Host", "gw.test:5000"}, 401, "http://gw.test:5000/v2/token"},
		{"upper case", trusting, []string{"Host", "GW.TEST.:5000"}, 401, "http://gw.test:5000/v2/token"},
		{"default port", trusting, []string{"Host", "gw.test:80"}, 401, "http://gw.test/v2/token"},
		{"port trick", trusting, []string{"Host", "gw.test:80;evil.example"}, 400, ""},
		{"bracket trick", trusting, []string{"Host", "[gw.test]junk.evil"}, 400, ""},
		{"forwarded", trusting, []string{"Host", "x", "X-Forwarded-Host", "gw.test", "X-Forwarded-Proto", "https"}, 401, "https://gw.test/v2/token"},
		{"forwarded userinfo trick", trusting, []string{"Host", "gw.test", "X-Forwarded-Host", "gw.test:@evil.example"}, 400, ""},
		{"forwarded quote trick", trusting, []string{"Host", "gw.test", "X-Forwarded-Host", `gw.test",service="evil`}, 400, ""},
		{"forwarded bad proto", trusting, []string{"Host", "gw.test", "X-Forwarded-Proto", "evil"}, 400, ""},
		{"untrusted forwarding ignored", distrusting, []string{"Host", "gw.test:5000", "X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https"}, 401, "http://gw.test:5000/v2/token"},
	}
	for _, tt := range tests {
		for _, path := range []string{"/v2/", "/v2/acme/rocket/manifests/latest"} {
			req, _ := http.NewRequest("GET", tt.srv.URL+path, nil)
			for i := 0; i+1 < len(tt.headers); i += 2 {
				if tt.headers[i] == "Host" {
					req.Host = tt.headers[i+1]
				} else {
					req.Header.Set(tt.headers[i], tt.headers[i+1])
				}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("%s: %s: status %d, want %d", tt.name, path, resp.StatusCode, tt.status)
				continue
			}
			if tt.status != 401 {
				continue
			}
			ch := resp.Header.Get("Www-Authenticate")
			want := `Bearer realm="` + tt.realm + `",service="gw.test"`
			if !strings.HasPrefix(ch, want) {
				t.Errorf("%s: %s: challenge %q, want it to start with %q", tt.name, path, ch, want)
			}
		}
	}
}

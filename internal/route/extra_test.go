package route_test

import (
	"net/http"
	"strings"
	"testing"

	"portico/internal/route"
)

// extra answers /badge/ paths with 200 "extra".
type extra struct{}

func (extra) Handles(path string) bool { return strings.HasPrefix(path, "/badge/") }

func (extra) ServeHTTP(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("extra")) }

// TestExtra: the Extra answers the paths it handles that no rule of the
// host answers, on known and unknown hosts, uncounted; a rule that
// answers such a path keeps it.
func TestExtra(t *testing.T) {
	const js = `{"rules":[
		{"type":"file-v1","domain":"own.test","incoming-path":"/badge/{name}","outgoing-url":"https://dl.test/{name}","package-id":"own"},
		{"type":"file-v1","domain":"other.test","incoming-path":"/dl/{name}","outgoing-url":"https://dl.test/{name}","package-id":"other"}]}`
	addr, rec, rt := defaultServer(t, js, route.DefaultDomain{})
	rt.SetExtra(extra{})
	for _, tc := range []struct {
		host, path string
		status     int
		body       string
	}{
		{"own.test", "/badge/x", http.StatusTemporaryRedirect, ""},
		{"other.test", "/badge/x", http.StatusOK, "extra"},
		{"unknown.test", "/badge/x", http.StatusOK, "extra"},
		{"other.test", "/nothing", http.StatusNotFound, ""},
	} {
		resp, body := rawDo(t, addr, tc.path, "Host", tc.host)
		if resp.StatusCode != tc.status || (tc.body != "" && body != tc.body) {
			t.Errorf("%s%s = %d %q, want %d %q", tc.host, tc.path, resp.StatusCode, body, tc.status, tc.body)
		}
	}
	if evs := rec.All(); len(evs) != 1 || evs[0].Domain != "own.test" {
		t.Errorf("events %+v, want only the rule's download", evs)
	}
}

package npm_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"portico/internal/clientip"
	"portico/internal/gateway/npm/npmtest"
	"portico/internal/manifest"
	"portico/internal/route"
)

// TestPackumentSizeLimit: a packument over the limit is refused with a
// 502 that names the limit, and while a copy is cached that copy is
// served instead.
func TestPackumentSizeLimit(t *testing.T) {
	var readme atomic.Int64 // bytes of readme in the documents served
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"name":%[1]q,"readme":%[2]q,"versions":{"1.0.0":{"name":%[1]q,"version":"1.0.0","dist":{"tarball":"http://%[3]s/%[1]s/-/x-1.0.0.tgz"}}}}`,
			name, strings.Repeat("r", int(readme.Load())), r.Host)
	}))
	defer up.Close()
	m, err := manifest.Decode("m.json", []byte(fmt.Sprintf(`{"rules":[{"type":"npm-v1","domain":"127.0.0.1","package-name":"*","package-id":"p","registry":%q,"cache-ttl":"0s"}]}`, up.URL+"/")))
	if err != nil {
		t.Fatal(err)
	}
	trusted, _ := clientip.ParseTrusted("")
	opts := npmtest.Options(t)
	opts.MaxPackument = 64 << 10
	table, err := route.Compile(m, route.Options{NPM: opts})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(route.NewRouter(table, trusted, nil, nil))
	defer srv.Close()

	readme.Store(100 << 10)
	resp, body := fetch(t, "GET", srv.URL+"/big")
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "exceeds the size limit of 65536 bytes") {
		t.Errorf("packument over the limit: %d %s, want 502 naming the limit", resp.StatusCode, body)
	}

	readme.Store(1 << 10)
	if resp, body := fetch(t, "GET", srv.URL+"/grows"); resp.StatusCode != http.StatusOK || resp.Header.Get("X-Portico-Cache") != "fetched" {
		t.Fatalf("packument under the limit: %d %s", resp.StatusCode, body)
	}
	readme.Store(100 << 10)
	resp, body = fetch(t, "GET", srv.URL+"/grows")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Portico-Cache") != "stale" || !strings.Contains(body, `"1.0.0"`) {
		t.Errorf("packument grown over the limit, a copy cached: %d %q, want the stale copy", resp.StatusCode, resp.Header.Get("X-Portico-Cache"))
	}
}

package api

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"portico/internal/control"
)

// TestPackagePagesWithManifest pages through a server administrator's
// list of every package, manifest and store packages mixed, with limits
// small and large: each package is listed exactly once, in id order,
// whichever source it comes from.
func TestPackagePagesWithManifest(t *testing.T) {
	// The ids interleave: store packages take ids of their own, so that
	// manifest ids fall before, between and after them.
	manifestIDs := []string{"0-manifest", "c-manifest", "e-manifest", "zz-manifest"}
	storeIDs := []string{"a-store", "b-store", "d-store", "f-store", "g-store"}
	e := newEnvWith(t, func(c *control.Config) {
		c.Manifest = func() []control.Package {
			var out []control.Package
			// Out of order on purpose: the manifest lists rules as
			// its file does.
			for _, id := range slices.Backward(manifestIDs) {
				out = append(out, control.Package{ID: id, Name: id, Host: "m.example.org",
					Rule:   []byte(`{"type":"file-v1","domain":"m.example.org","incoming-path":"/` + id + `","outgoing-url":"https://cdn.example.com/` + id + `"}`),
					Source: control.SourceManifest})
			}
			return out
		}
	})
	_, adminTok := e.user("root@example.com", true)
	e.org(adminTok, "acme")
	for _, id := range storeIDs {
		rule := fileRule("acme."+baseDomain, "/"+id)
		rule["package-id"] = id
		e.pkg(adminTok, "acme", id, rule)
	}
	want := slices.Sorted(slices.Values(append(slices.Clone(manifestIDs), storeIDs...)))

	for _, limit := range []int{1, 2, 3, 50} {
		t.Run(fmt.Sprint("limit=", limit), func(t *testing.T) {
			var got []string
			readOnly := map[string]bool{}
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > len(want)+1 {
					t.Fatalf("the pages do not end: %v", got)
				}
				path := fmt.Sprintf("/api/v1/packages?limit=%d", limit)
				if cursor != "" {
					path += "&cursor=" + cursor
				}
				a := e.call("GET", path, bearer(adminTok), nil)
				if a.status != http.StatusOK {
					t.Fatalf("%s: %d %s", path, a.status, a.body)
				}
				var l list[packageJSON]
				a.json(t, &l)
				if len(l.Items) > limit {
					t.Fatalf("page %d holds %d packages, more than the limit %d", pages, len(l.Items), limit)
				}
				for _, p := range l.Items {
					got = append(got, p.ID)
					readOnly[p.ID] = p.ReadOnly
				}
				if l.NextCursor == "" {
					break
				}
				cursor = l.NextCursor
			}
			if !slices.Equal(got, want) {
				t.Fatalf("listed\n%v\nwant\n%v", got, want)
			}
			for _, id := range manifestIDs {
				if !readOnly[id] {
					t.Errorf("manifest package %s is not read-only", id)
				}
			}
			for _, id := range storeIDs {
				if readOnly[id] {
					t.Errorf("store package %s is read-only", id)
				}
			}
		})
	}
}

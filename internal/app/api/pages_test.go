package api

import (
	"fmt"
	"maps"
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

// pageAll pages through a list with limit, checking each page's size,
// and returns every item's key field in the order listed.
func (e *env) pageAll(t *testing.T, path string, c cred, limit int, key string) []string {
	t.Helper()
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatalf("the pages of %s do not end: %v", path, got)
		}
		p := fmt.Sprintf("%s?limit=%d", path, limit)
		if cursor != "" {
			p += "&cursor=" + cursor
		}
		a := e.call("GET", p, c, nil)
		if a.status != http.StatusOK {
			t.Fatalf("%s: %d %s", p, a.status, a.body)
		}
		var l struct {
			Items      []map[string]any `json:"items"`
			NextCursor string           `json:"next_cursor"`
		}
		a.json(t, &l)
		if len(l.Items) > limit {
			t.Fatalf("%s: %d items, more than the limit", p, len(l.Items))
		}
		for _, it := range l.Items {
			s, _ := it[key].(string)
			got = append(got, s)
		}
		if l.NextCursor == "" {
			return got
		}
		cursor = l.NextCursor
	}
}

// TestListPages pages through the organizations, domains and
// collections of a user in several organizations, and of a server
// administrator, with limits small and large: every item the principal
// may read is listed exactly once, in the order of its key, also when
// the lists of several organizations are merged and the domains under
// the base domain are among them.
func TestListPages(t *testing.T) {
	e := newEnv(t)
	ann, annTok := e.user("ann@example.com", false)
	_, rootTok := e.user("root@example.com", true)
	ctx := t.Context()
	orgIDs := map[string]string{} // name → id
	orgIDs["ann"] = e.orgID(annTok, "ann")
	orgIDs["root"] = e.orgID(rootTok, "root")
	var annOrgs, annDomains, annColls []string
	var allDomains, allColls []string
	annOrgs = append(annOrgs, orgIDs["ann"])
	annDomains = append(annDomains, "ann."+baseDomain)
	allDomains = append(allDomains, "ann."+baseDomain, "root."+baseDomain)
	// Ann is a Member of the b, d and f organizations, and has a role
	// on a package only in a, c, e and g, whose lists she does not see.
	for i, name := range []string{"o-a", "o-b", "o-c", "o-d", "o-e", "o-f", "o-g"} {
		owner, tok := e.user(fmt.Sprintf("owner%d@example.com", i), false)
		personal := fmt.Sprintf("owner%d", i)
		orgIDs[personal] = e.orgID(tok, personal)
		allDomains = append(allDomains, personal+"."+baseDomain)
		e.org(tok, name)
		orgIDs[name] = e.orgID(tok, name)
		allDomains = append(allDomains, name+"."+baseDomain)
		member := i%2 == 1
		if member {
			if _, err := e.svc.SetOrgMember(ctx, control.As(owner), name, ann.Email, control.RoleMember); err != nil {
				t.Fatal(err)
			}
			annOrgs = append(annOrgs, orgIDs[name])
			annDomains = append(annDomains, name+"."+baseDomain)
		} else {
			pkg := e.pkg(tok, name, "pkg", fileRule(name+"."+baseDomain, "/p"))
			if _, err := e.svc.SetPackageMember(ctx, control.As(owner), pkg, ann.Email, control.RoleMember); err != nil {
				t.Fatal(err)
			}
		}
		for j := range 3 {
			d := e.domain(tok, name, fmt.Sprintf("%c%d.%s.example", 'a'+rune((i*5+j*11)%26), j, name))
			c := e.collection(tok, name, fmt.Sprintf("c%d", j))
			allDomains = append(allDomains, d)
			allColls = append(allColls, c)
			if member {
				annDomains = append(annDomains, d)
				annColls = append(annColls, c)
			}
		}
	}
	allOrgs := slices.Collect(maps.Values(orgIDs))
	for _, s := range [][]string{annOrgs, annDomains, annColls, allOrgs, allDomains, allColls} {
		slices.Sort(s)
	}
	for _, c := range []struct {
		who  string
		cred cred
		path string
		key  string
		want []string
	}{
		{"ann", bearer(annTok), "/api/v1/orgs", "id", annOrgs},
		{"ann", bearer(annTok), "/api/v1/domains", "name", annDomains},
		{"ann", bearer(annTok), "/api/v1/collections", "id", annColls},
		{"a server admin", bearer(rootTok), "/api/v1/orgs", "id", allOrgs},
		{"a server admin", bearer(rootTok), "/api/v1/domains", "name", allDomains},
		{"a server admin", bearer(rootTok), "/api/v1/collections", "id", allColls},
	} {
		for _, limit := range []int{1, 2, 3, 50} {
			got := e.pageAll(t, c.path, c.cred, limit, c.key)
			if !slices.Equal(got, c.want) {
				t.Errorf("%s by %s with limit %d listed\n%v\nwant\n%v", c.path, c.who, limit, got, c.want)
			}
		}
	}
}

// orgID returns the id of an organization the holder of tok may read.
func (e *env) orgID(tok, name string) string {
	e.t.Helper()
	var o orgJSON
	a := e.call("GET", "/api/v1/orgs/"+name, bearer(tok), nil)
	a.json(e.t, &o)
	if a.status != http.StatusOK || o.ID == "" {
		e.t.Fatalf("organization %s: %d %s", name, a.status, a.body)
	}
	return o.ID
}

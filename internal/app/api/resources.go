package api

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"portico/internal/clientip"
	"portico/internal/control"
)

func clientPeer(r *http.Request) netip.Addr { return clientip.Peer(r) }

// lastValue returns the last comma-separated element of a header's
// values, trimmed.
func lastValue(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	v := vs[len(vs)-1]
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return strings.TrimSpace(v)
}

// --- organizations ---

func (a *API) listOrgs(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	return listPage(w, r, func(pg control.Page) ([]control.OrgView, error) { return a.svc.ListOrgs(r.Context(), p, pg) }, func(o control.OrgView) string { return o.ID }, orgOf)
}

type orgRequest struct {
	Name        *string `json:"name"`
	DisplayName *string `json:"display_name"`
}

func (a *API) createOrg(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	var req orgRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Name == nil {
		return badRequest("name", "is required")
	}
	o, err := a.svc.CreateOrg(r.Context(), p, *req.Name, deref(req.DisplayName))
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/orgs/"+o.Name)
	return reply(w, http.StatusCreated, o, nil, orgOf)
}

func (a *API) getOrg(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	o, err := a.svc.GetOrg(r.Context(), p, r.PathValue("org"))
	return reply(w, http.StatusOK, o, err, orgOf)
}

func (a *API) updateOrg(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	var req orgRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	o, err := a.svc.UpdateOrg(r.Context(), p, r.PathValue("org"), control.OrgPatch{Name: req.Name, DisplayName: req.DisplayName})
	return reply(w, http.StatusOK, o, err, orgOf)
}

func (a *API) deleteOrg(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	return noContent(w, a.svc.DeleteOrg(r.Context(), p, r.PathValue("org")))
}

func (a *API) orgMembers(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	return listPage(w, r, func(pg control.Page) ([]control.Member, error) {
		return a.svc.OrgMembers(r.Context(), p, r.PathValue("org"), pg)
	}, func(m control.Member) string { return m.UserID }, memberOf)
}

type roleRequest struct {
	Role string `json:"role"`
}

func decodeRole(r *http.Request) (control.Role, error) {
	var req roleRequest
	if err := decode(r, &req); err != nil {
		return 0, err
	}
	if req.Role == "" {
		return 0, badRequest("role", "is required: owner, admin or member")
	}
	role, err := control.ParseRole(req.Role)
	if err != nil {
		return 0, badRequest("role", "%v", err)
	}
	return role, nil
}

func (a *API) setOrgMember(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	role, err := decodeRole(r)
	if err != nil {
		return err
	}
	m, err := a.svc.SetOrgMember(r.Context(), p, r.PathValue("org"), r.PathValue("email"), role)
	return reply(w, http.StatusOK, m, err, memberOf)
}

func (a *API) removeOrgMember(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	_, err := a.svc.SetOrgMember(r.Context(), p, r.PathValue("org"), r.PathValue("email"), control.RoleNone)
	return noContent(w, err)
}

// --- packages ---

func (a *API) listPackages(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	return listPage(w, r, func(pg control.Page) ([]control.PackageView, error) {
		return a.svc.ListPackages(r.Context(), p, r.URL.Query().Get("org"), pg)
	}, func(v control.PackageView) string { return v.ID }, packageOf)
}

type packageRequest struct {
	Org  *string         `json:"org"`
	Name *string         `json:"name"`
	Rule json.RawMessage `json:"rule"`
}

func (a *API) createPackage(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	var req packageRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := requireOrgAndName(req.Org, req.Name); err != nil {
		return err
	}
	v, err := a.svc.CreatePackage(r.Context(), p, control.NewPackage{Org: *req.Org, Name: *req.Name, Rule: req.Rule})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/packages/"+v.ID)
	return reply(w, http.StatusCreated, v, nil, packageOf)
}

func (a *API) getPackage(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	v, err := a.svc.GetPackage(r.Context(), p, r.PathValue("id"))
	return reply(w, http.StatusOK, v, err, packageOf)
}

func (a *API) updatePackage(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	var req packageRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Org != nil {
		return badRequest("org", "a package cannot move to another organization")
	}
	v, err := a.svc.UpdatePackage(r.Context(), p, r.PathValue("id"), control.PackagePatch{Name: req.Name, Rule: req.Rule})
	return reply(w, http.StatusOK, v, err, packageOf)
}

func (a *API) deletePackage(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	return noContent(w, a.svc.DeletePackage(r.Context(), p, r.PathValue("id")))
}

func (a *API) packageMembers(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	return listPage(w, r, func(pg control.Page) ([]control.Member, error) {
		return a.svc.PackageMembers(r.Context(), p, r.PathValue("id"), pg)
	}, func(m control.Member) string { return m.UserID }, memberOf)
}

func (a *API) setPackageMember(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	role, err := decodeRole(r)
	if err != nil {
		return err
	}
	m, err := a.svc.SetPackageMember(r.Context(), p, r.PathValue("id"), r.PathValue("email"), role)
	return reply(w, http.StatusOK, m, err, memberOf)
}

func (a *API) removePackageMember(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	_, err := a.svc.SetPackageMember(r.Context(), p, r.PathValue("id"), r.PathValue("email"), control.RoleNone)
	return noContent(w, err)
}

// --- domains ---

func (a *API) listDomains(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	return listPage(w, r, func(pg control.Page) ([]control.DomainView, error) {
		return a.svc.ListDomains(r.Context(), p, r.URL.Query().Get("org"), pg)
	}, func(d control.DomainView) string { return d.Name }, domainOf)
}

type domainRequest struct {
	Org       *string `json:"org"`
	Name      *string `json:"name"`
	HTTPSOnly bool    `json:"https_only"`
}

func (a *API) addDomain(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	var req domainRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := requireOrgAndName(req.Org, req.Name); err != nil {
		return err
	}
	d, err := a.svc.AddDomain(r.Context(), p, *req.Org, *req.Name, false, req.HTTPSOnly)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/domains/"+d.Name)
	return reply(w, http.StatusCreated, d, nil, domainOf)
}

func (a *API) getDomain(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	d, err := a.svc.GetDomain(r.Context(), p, r.PathValue("name"))
	return reply(w, http.StatusOK, d, err, domainOf)
}

type domainUpdate struct {
	HTTPSOnly *bool `json:"https_only"`
}

func (a *API) updateDomain(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	var req domainUpdate
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.HTTPSOnly == nil {
		return badRequest("https_only", "is required")
	}
	d, err := a.svc.SetDomainHTTPSOnly(r.Context(), p, r.PathValue("name"), *req.HTTPSOnly)
	return reply(w, http.StatusOK, d, err, domainOf)
}

func (a *API) removeDomain(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	return noContent(w, a.svc.RemoveDomain(r.Context(), p, r.PathValue("name")))
}

func (a *API) verifyDomain(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	d, err := a.svc.VerifyDomain(r.Context(), p, r.PathValue("name"))
	return reply(w, http.StatusOK, d, err, domainOf)
}

// --- collections ---

func (a *API) listCollections(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	return listPage(w, r, func(pg control.Page) ([]control.CollectionView, error) {
		return a.svc.ListCollections(r.Context(), p, r.URL.Query().Get("org"), pg)
	}, func(c control.CollectionView) string { return c.ID }, collectionOf)
}

func (a *API) createCollection(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	var req packageRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := requireOrgAndName(req.Org, req.Name); err != nil {
		return err
	}
	c, err := a.svc.CreateCollection(r.Context(), p, control.NewCollection{Org: *req.Org, Name: *req.Name, Rule: req.Rule})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/collections/"+c.ID)
	return reply(w, http.StatusCreated, c, nil, collectionOf)
}

func (a *API) getCollection(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	c, err := a.svc.GetCollection(r.Context(), p, r.PathValue("id"))
	return reply(w, http.StatusOK, c, err, collectionOf)
}

func (a *API) updateCollection(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	var req packageRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Org != nil {
		return badRequest("org", "a collection cannot move to another organization")
	}
	c, err := a.svc.UpdateCollection(r.Context(), p, r.PathValue("id"), control.CollectionPatch{Name: req.Name, Rule: req.Rule})
	return reply(w, http.StatusOK, c, err, collectionOf)
}

func (a *API) deleteCollection(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	return noContent(w, a.svc.DeleteCollection(r.Context(), p, r.PathValue("id")))
}

// --- tokens ---

func (a *API) listTokens(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	return listPage(w, r, func(pg control.Page) ([]control.Token, error) { return a.svc.ListTokens(r.Context(), p, pg) }, func(t control.Token) string { return t.ID }, tokenOf)
}

type tokenRequest struct {
	Name  string `json:"name"`
	Scope string `json:"scope"`
	// Expires is when the token stops working (RFC 3339), or
	// ExpiresIn a duration from now ("720h").
	Expires   string `json:"expires"`
	ExpiresIn string `json:"expires_in"`
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	var req tokenRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Scope == "" {
		return badRequest("scope", "is required: read or write")
	}
	scope, err := control.ParseScope(req.Scope)
	if err != nil {
		return badRequest("scope", "%v", err)
	}
	nt := control.NewToken{Name: req.Name, Scope: scope}
	switch {
	case req.Expires != "" && req.ExpiresIn != "":
		return badRequest("expires_in", "give expires or expires_in, not both")
	case req.Expires != "":
		t, err := time.Parse(time.RFC3339, req.Expires)
		if err != nil {
			return badRequest("expires", "must be an RFC 3339 time such as 2027-01-31T00:00:00Z")
		}
		if nt.TTL = time.Until(t); nt.TTL <= 0 {
			return badRequest("expires", "must be in the future")
		}
	case req.ExpiresIn != "":
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil || d <= 0 {
			return badRequest("expires_in", "must be a positive duration such as 720h")
		}
		nt.TTL = d
	}
	secret, t, err := a.svc.CreateToken(r.Context(), p, nt)
	if err != nil {
		return err
	}
	out := tokenOf(t)
	out.Token = secret
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (a *API) revokeToken(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	return noContent(w, a.svc.RevokeToken(r.Context(), p, r.PathValue("id")))
}

// requireOrgAndName checks the two fields every new package, collection
// and domain names.
func requireOrgAndName(org, name *string) error {
	switch {
	case org == nil:
		return badRequest("org", "is required")
	case name == nil:
		return badRequest("name", "is required")
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

package api

import "net/http"

// routes lists every endpoint. The OpenAPI document describes exactly
// these; a test holds the two together.
func (a *API) routes() []endpoint {
	return []endpoint{
		{"GET /api/v1/openapi.json", http.HandlerFunc(a.serveOpenAPI)},

		{"POST /api/v1/session", a.open(a.signIn)},
		{"DELETE /api/v1/session", a.open(a.signOut)},
		{"GET /api/v1/me", a.authed(a.me)},
		{"PATCH /api/v1/me", a.authed(a.updateMe)},

		{"GET /api/v1/orgs", a.authed(a.listOrgs)},
		{"POST /api/v1/orgs", a.authed(a.createOrg)},
		{"GET /api/v1/orgs/{org}", a.authed(a.getOrg)},
		{"PATCH /api/v1/orgs/{org}", a.authed(a.updateOrg)},
		{"DELETE /api/v1/orgs/{org}", a.authed(a.deleteOrg)},
		{"GET /api/v1/orgs/{org}/members", a.authed(a.orgMembers)},
		{"PUT /api/v1/orgs/{org}/members/{email}", a.authed(a.setOrgMember)},
		{"DELETE /api/v1/orgs/{org}/members/{email}", a.authed(a.removeOrgMember)},
		{"GET /api/v1/orgs/{org}/stats", a.authed(a.orgStats)},

		{"GET /api/v1/packages", a.authed(a.listPackages)},
		{"POST /api/v1/packages", a.authed(a.createPackage)},
		{"GET /api/v1/packages/{id}", a.authed(a.getPackage)},
		{"PATCH /api/v1/packages/{id}", a.authed(a.updatePackage)},
		{"DELETE /api/v1/packages/{id}", a.authed(a.deletePackage)},
		{"GET /api/v1/packages/{id}/members", a.authed(a.packageMembers)},
		{"PUT /api/v1/packages/{id}/members/{email}", a.authed(a.setPackageMember)},
		{"DELETE /api/v1/packages/{id}/members/{email}", a.authed(a.removePackageMember)},
		{"GET /api/v1/packages/{id}/stats", a.authed(a.packageStats)},
		{"GET /api/v1/packages/{id}/export", a.authed(a.exportPackage)},

		{"GET /api/v1/domains", a.authed(a.listDomains)},
		{"POST /api/v1/domains", a.authed(a.addDomain)},
		{"GET /api/v1/domains/{name}", a.authed(a.getDomain)},
		{"PATCH /api/v1/domains/{name}", a.authed(a.updateDomain)},
		{"DELETE /api/v1/domains/{name}", a.authed(a.removeDomain)},
		{"POST /api/v1/domains/{name}/verify", a.authed(a.verifyDomain)},

		{"GET /api/v1/collections", a.authed(a.listCollections)},
		{"POST /api/v1/collections", a.authed(a.createCollection)},
		{"GET /api/v1/collections/{id}", a.authed(a.getCollection)},
		{"PATCH /api/v1/collections/{id}", a.authed(a.updateCollection)},
		{"DELETE /api/v1/collections/{id}", a.authed(a.deleteCollection)},

		{"GET /api/v1/tokens", a.authed(a.listTokens)},
		{"POST /api/v1/tokens", a.authed(a.createToken)},
		{"DELETE /api/v1/tokens/{id}", a.authed(a.revokeToken)},
	}
}

func (a *API) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(openAPI)
}

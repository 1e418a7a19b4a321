package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"portico/internal/control"
)

// orgAccess returns p's organizations by name, with what p may do in
// each.
func (w *Web) orgAccess(r *http.Request, p control.Principal) (map[string]control.OrgView, []control.OrgView, error) {
	orgs, err := w.svc.ListOrgs(r.Context(), p, control.Page{Limit: control.MaxLimit})
	if err != nil {
		return nil, nil, err
	}
	byName := map[string]control.OrgView{}
	for _, o := range orgs {
		byName[o.Name] = o
	}
	return byName, orgs, nil
}

// --- domains ---

type domainRow struct {
	control.DomainView
	CanEdit bool
}

type domainsData struct {
	Domains []domainRow
	Orgs    []control.OrgView // those whose domains p may add
	Org     string
	Name    string
}

func (w *Web) domainsData(r *http.Request, p control.Principal) (domainsData, error) {
	var d domainsData
	byName, _, err := w.orgAccess(r, p)
	if err != nil {
		return d, err
	}
	ds, err := w.svc.ListDomains(r.Context(), p, "", control.Page{Limit: control.MaxLimit})
	if err != nil {
		return d, err
	}
	for _, dv := range ds {
		d.Domains = append(d.Domains, domainRow{DomainView: dv, CanEdit: !dv.Implicit && byName[dv.Org].Access(p).CanEdit()})
	}
	if d.Orgs, err = w.editableOrgs(r, p); err != nil {
		return d, err
	}
	return d, nil
}

func (w *Web) listDomains(rw http.ResponseWriter, r *http.Request, p control.Principal) error {
	d, err := w.domainsData(r, p)
	if err != nil {
		return err
	}
	w.render(rw, r, http.StatusOK, "domains", view{Title: "Domains", Nav: "domains", Me: me(&p), Notice: notice(r), Data: d})
	return nil
}

func (w *Web) addDomain(rw http.ResponseWriter, r *http.Request, p control.Principal) error {
	org, name := r.PostFormValue("org"), strings.TrimSpace(r.PostFormValue("name"))
	dv, err := w.svc.AddDomain(r.Context(), p, org, name, false, false)
	if err != nil {
		errs, ok := fieldErrors(err)
		if !ok {
			return err
		}
		d, derr := w.domainsData(r, p)
		if derr != nil {
			return derr
		}
		d.Org, d.Name = org, name
		status, _, _, _ := describeErr(err)
		w.render(rw, r, status, "domains", view{Title: "Domains", Nav: "domains", Me: me(&p), Errors: errs, Problem: errs[""], Data: d})
		return nil
	}
	seeOther(rw, r, "/domains#"+fieldID(dv.Name), dv.Name+" was added: create the records below, then check it.")
	return nil
}

func (w *Web) verifyDomain(rw http.ResponseWriter, r *http.Request, p control.Principal) error {
	dv, err := w.svc.VerifyDomain(r.Context(), p, r.PathValue("name"))
	if err != nil {
		return err
	}
	msg := dv.Name + " is " + dv.Status.String() + "."
	if dv.LastError != "" {
		msg += " " + sentence(dv.LastError)
	}
	seeOther(rw, r, "/domains#"+fieldID(dv.Name), msg)
	return nil
}

func (w *Web) removeDomain(rw http.ResponseWriter, r *http.Request, p control.Principal) error {
	name := r.PathValue("name")
	if err := w.svc.RemoveDomain(r.Context(), p, name); err != nil {
		return err
	}
	seeOther(rw, r, "/domains", name+" was removed.")
	return nil
}

// --- collections ---

type collectionRow struct {
	control.CollectionView
	Kind    string
	CanEdit bool
}

type collectionsData struct {
	Collections []collectionRow
	Orgs        []control.OrgView
	Org, Name   string
	Rule        string
}

const collectionExample = `{"type": "docker-v2", "domain": "cr.acme.dev", "pattern": "acme/*", "registry": "ghcr.io", "rule-id": "acme-images"}`

func (w *Web) collectionsData(r *http.Request, p control.Principal) (collectionsData, error) {
	d := collectionsData{Rule: collectionExample}
	byName, _, err := w.orgAccess(r, p)
	if err != nil {
		return d, err
	}
	cs, err := w.svc.ListCollections(r.Context(), p, "", control.Page{Limit: control.MaxLimit})
	if err != nil {
		return d, err
	}
	for _, c := range cs {
		d.Collections = append(d.Collections, collectionRow{CollectionView: c, Kind: ruleType(c.Rule), CanEdit: byName[c.Org].Access(p).CanEdit()})
	}
	d.Orgs, err = w.editableOrgs(r, p)
	return d, err
}

func (w *Web) listCollections(rw http.ResponseWriter, r *http.Request, p control.Principal) error {
	d, err := w.collectionsData(r, p)
	if err != nil {
		return err
	}
	w.render(rw, r, http.StatusOK, "collections", view{Title: "Collections", Nav: "collections", Me: me(&p), Notice: notice(r), Data: d})
	return nil
}

func (w *Web) createCollection(rw http.ResponseWriter, r *http.Request, p control.Principal) error {
	org, name, rule := r.PostFormValue("org"), strings.TrimSpace(r.PostFormValue("name")), strings.TrimSpace(r.PostFormValue("rule"))
	c, err := w.svc.CreateCollection(r.Context(), p, control.NewCollection{Org: org, Name: name, Rule: json.RawMessage(rule)})
	if err != nil {
		errs, ok := fieldErrors(err)
		if !ok {
			return err
		}
		d, derr := w.collectionsData(r, p)
		if derr != nil {
			return derr
		}
		d.Org, d.Name, d.Rule = org, name, rule
		// Messages about the rule's fields are shown at the rule.
		for f, msg := range errs {
			if strings.HasPrefix(f, "rule.") {
				errs["rule"] = f + ": " + msg
			}
		}
		status, _, _, _ := describeErr(err)
		w.render(rw, r, status, "collections", view{Title: "Collections", Nav: "collections", Me: me(&p), Errors: errs, Problem: errs[""], Data: d})
		return nil
	}
	seeOther(rw, r, "/collections/"+url.PathEscape(c.ID), "Collection "+c.Name+" was created: its first downloads create its packages.")
	return nil
}

type collectionPageData struct {
	C        control.CollectionView
	Rule     string
	CanEdit  bool
	Packages []control.PackageView
}

func (w *Web) collectionPage(rw http.ResponseWriter, r *http.Request, p control.Principal) error {
	c, err := w.svc.GetCollection(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	o, err := w.svc.GetOrg(r.Context(), p, c.Org)
	if err != nil {
		return err
	}
	d := collectionPageData{C: c, CanEdit: o.Access(p).CanEdit()}
	var pretty bytes.Buffer
	if json.Indent(&pretty, c.Rule, "", "  ") == nil {
		d.Rule = pretty.String()
	}
	pkgs, err := w.allPackages(r, p, c.Org)
	if err != nil {
		return err
	}
	for _, v := range pkgs {
		if v.Collection == c.ID {
			d.Packages = append(d.Packages, v)
		}
	}
	w.render(rw, r, http.StatusOK, "collection", view{Title: c.Name, Nav: "collections", Me: me(&p), Notice: notice(r), Data: d})
	return nil
}

func (w *Web) deleteCollection(rw http.ResponseWriter, r *http.Request, p control.Principal) error {
	c, err := w.svc.GetCollection(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := w.svc.DeleteCollection(r.Context(), p, c.ID); err != nil {
		return err
	}
	seeOther(rw, r, "/collections", "Collection "+c.Name+" was deleted.")
	return nil
}

// --- organizations ---

type orgsData struct {
	Orgs              []control.OrgView
	Name, DisplayName string
	CanCreate         bool
}

func (w *Web) listOrgs(rw http.ResponseWriter, r *http.Request, p control.Principal) error {
	_, orgs, err := w.orgAccess(r, p)
	if err != nil {
		return err
	}
	d := orgsData{Orgs: orgs, CanCreate: p.Scope == control.ScopeWrite && p.User.ID != ""}
	w.render(rw, r, http.StatusOK, "orgs", view{Title: "Organizations", Nav: "orgs", Me: me(&p), Notice: notice(r), Data: d})
	return nil
}

func (w *Web) createOrg(rw http.ResponseWriter, r *http.Request, p control.Principal) error {
	name, display := strings.TrimSpace(r.PostFormValue("name")), strings.TrimSpace(r.PostFormValue("display_name"))
	o, err := w.svc.CreateOrg(r.Context(), p, name, display)
	if err != nil {
		errs, ok := fieldErrors(err)
		if !ok {
			return err
		}
		_, orgs, lerr := w.orgAccess(r, p)
		if lerr != nil {
			return lerr
		}
		status, _, _, _ := describeErr(err)
		d := orgsData{Orgs: orgs, Name: name, DisplayName: display, CanCreate: true}
		w.render(rw, r, status, "orgs", view{Title: "Organizations", Nav: "orgs", Me: me(&p), Errors: errs, Problem: errs[""], Data: d})
		return nil
	}
	seeOther(rw, r, "/orgs/"+url.PathEscape(o.Name), "Organization "+o.Name+" was created.")
	return nil
}

type orgPageData struct {
	O         control.OrgView
	CanEdit   bool
	Members   []memberRow
	Grantable []control.Role
	Packages  []control.PackageView
}

func (w *Web) orgPage(rw http.ResponseWriter, r *http.Request, p control.Principal) error {
	o, err := w.svc.GetOrg(r.Context(), p, r.PathValue("org"))
	if err != nil {
		return err
	}
	a := o.Access(p)
	ms, err := w.svc.OrgMembers(r.Context(), p, o.Name, control.Page{Limit: control.MaxLimit})
	if err != nil {
		return err
	}
	pkgs, err := w.allPackages(r, p, o.Name)
	if err != nil {
		return err
	}
	d := orgPageData{O: o, CanEdit: a.CanEdit(), Members: members(ms, a, p), Grantable: a.Grantable(false, control.RoleNone), Packages: pkgs}
	w.render(rw, r, http.StatusOK, "org", view{Title: o.Name, Nav: "orgs", Me: me(&p), Notice: notice(r), Data: d})
	return nil
}

func (w *Web) setOrgMember(rw http.ResponseWriter, r *http.Request, p control.Principal) error {
	org := r.PathValue("org")
	role, err := formRole(r)
	if err != nil {
		return err
	}
	email := r.PostFormValue("email")
	if _, err := w.svc.SetOrgMember(r.Context(), p, org, email, role); err != nil {
		return err
	}
	seeOther(rw, r, "/orgs/"+url.PathEscape(org)+"#members", memberNotice(email, role))
	return nil
}

// --- tokens ---

type tokensData struct {
	Tokens []control.Token
	// Secret is the token just created, shown this once.
	Secret  string
	Created string
	Name    string
	Now     time.Time
	// Key makes the form create one token however often it is sent
	// (control.NewToken.Key): reloading the page that shows a new
	// token sends the form again.
	Key string
}

func (w *Web) tokensPage(rw http.ResponseWriter, r *http.Request, p control.Principal, status int, d tokensData, v view) error {
	ts, err := w.svc.ListTokens(r.Context(), p, control.Page{Limit: control.MaxLimit})
	if err != nil {
		return err
	}
	d.Tokens, d.Now, d.Key = ts, w.now(), control.NewID()
	v.Title, v.Nav, v.Me, v.Data = "API tokens", "tokens", me(&p), d
	w.render(rw, r, status, "tokens", v)
	return nil
}

func (w *Web) listTokens(rw http.ResponseWriter, r *http.Request, p control.Principal) error {
	return w.tokensPage(rw, r, p, http.StatusOK, tokensData{}, view{Notice: notice(r)})
}

func (w *Web) createToken(rw http.ResponseWriter, r *http.Request, p control.Principal) error {
	nt := control.NewToken{Name: strings.TrimSpace(r.PostFormValue("name")), Key: r.PostFormValue("key")}
	scope, err := control.ParseScope(r.PostFormValue("scope"))
	if err != nil {
		return w.tokensPage(rw, r, p, http.StatusBadRequest, tokensData{Name: nt.Name}, view{Errors: map[string]string{"scope": "Choose read or write."}})
	}
	nt.Scope = scope
	if days := r.PostFormValue("days"); days != "" && days != "0" {
		d, err := time.ParseDuration(days + "h")
		if err != nil || d <= 0 || d > 3650*time.Hour {
			return w.tokensPage(rw, r, p, http.StatusBadRequest, tokensData{Name: nt.Name}, view{Errors: map[string]string{"days": "Give a number of days from 1 to 3650, or 0 for a token that never expires."}})
		}
		nt.TTL = d * 24
	}
	secret, t, err := w.svc.CreateToken(r.Context(), p, nt)
	if errors.Is(err, control.ErrTokenSent) {
		// The page that showed the secret was reloaded: the token it
		// made is in the list; its secret is not shown again.
		seeOther(rw, r, "/tokens", "This form was sent already: its token was created then, and its secret shown once. Revoke it if you did not copy it.")
		return nil
	}
	if err != nil {
		errs, ok := fieldErrors(err)
		if !ok {
			return err
		}
		status, _, _, _ := describeErr(err)
		return w.tokensPage(rw, r, p, status, tokensData{Name: nt.Name}, view{Errors: errs, Problem: errs[""]})
	}
	// The secret is in this answer only, which is never cached; the
	// list shows the token without it from now on.
	return w.tokensPage(rw, r, p, http.StatusCreated, tokensData{Secret: secret, Created: t.ID}, view{Notice: "Token " + t.Name + " was created. Copy it now: it is not shown again."})
}

func (w *Web) revokeToken(rw http.ResponseWriter, r *http.Request, p control.Principal) error {
	if err := w.svc.RevokeToken(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	seeOther(rw, r, "/tokens", "The token was revoked.")
	return nil
}

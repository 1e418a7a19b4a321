package api

import (
	"encoding/json"
	"time"

	"portico/internal/control"
)

// The JSON forms of the entities. Times are RFC 3339 in UTC; a time that
// is not set is left out.

type userJSON struct {
	ID          string `json:"id"`
	Email       string `json:"email"`
	Name        string `json:"name"`
	ServerAdmin bool   `json:"server_admin"`
	HasPassword bool   `json:"has_password"`
	Created     string `json:"created"`
}

func userOf(u control.User) userJSON {
	return userJSON{ID: u.ID, Email: u.Email, Name: u.Name, ServerAdmin: u.ServerAdmin, HasPassword: u.PasswordHash != "", Created: stamp(u.Created)}
}

type orgJSON struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
	Personal    bool   `json:"personal"`
	Role        string `json:"role,omitempty"`
	Domain      string `json:"domain,omitempty"`
	Created     string `json:"created"`
}

func orgOf(o control.OrgView) orgJSON {
	return orgJSON{ID: o.ID, Name: o.Name, DisplayName: o.DisplayName, Personal: o.PersonalOf != "", Role: o.Role.String(), Domain: o.Domain, Created: stamp(o.Created)}
}

type memberJSON struct {
	Email string `json:"email"`
	Name  string `json:"name"`
	Role  string `json:"role"`
}

func memberOf(m control.Member) memberJSON {
	return memberJSON{Email: m.Email, Name: m.Name, Role: m.Role.String()}
}

type packageJSON struct {
	ID         string          `json:"id"`
	Org        string          `json:"org,omitempty"`
	Name       string          `json:"name"`
	Domain     string          `json:"domain"`
	Rule       json.RawMessage `json:"rule"`
	Source     string          `json:"source"`
	Collection string          `json:"collection,omitempty"`
	ReadOnly   bool            `json:"read_only"`
	Role       string          `json:"role,omitempty"`
	Created    string          `json:"created,omitempty"`
	Updated    string          `json:"updated,omitempty"`
}

func packageOf(p control.PackageView) packageJSON {
	return packageJSON{ID: p.ID, Org: p.Org, Name: p.Name, Domain: p.Host, Rule: p.Rule, Source: p.Source.String(),
		Collection: p.Collection, ReadOnly: p.ReadOnly, Role: p.Role.String(), Created: stamp(p.Created), Updated: stamp(p.Updated)}
}

type recordJSON struct {
	Type  string `json:"type"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

type domainJSON struct {
	Name      string       `json:"name"`
	Org       string       `json:"org"`
	Status    string       `json:"status"`
	Implicit  bool         `json:"implicit"`
	Records   []recordJSON `json:"records"`
	LastCheck string       `json:"last_check,omitempty"`
	LastError string       `json:"last_error,omitempty"`
	Verified  string       `json:"verified,omitempty"`
	Created   string       `json:"created"`
	HTTPSOnly bool         `json:"https_only"`
}

func domainOf(d control.DomainView) domainJSON {
	out := domainJSON{Name: d.Name, Org: d.Org, Status: d.Status.String(), Implicit: d.Implicit, Records: []recordJSON{}, HTTPSOnly: d.HTTPSOnly,
		LastCheck: stamp(d.LastCheck), LastError: d.LastError, Verified: stamp(d.Verified), Created: stamp(d.Created)}
	for _, r := range d.Records {
		out.Records = append(out.Records, recordJSON(r))
	}
	return out
}

type collectionJSON struct {
	ID      string          `json:"id"`
	Org     string          `json:"org"`
	Name    string          `json:"name"`
	Domain  string          `json:"domain"`
	Rule    json.RawMessage `json:"rule"`
	Created string          `json:"created"`
	Updated string          `json:"updated"`
}

func collectionOf(c control.CollectionView) collectionJSON {
	return collectionJSON{ID: c.ID, Org: c.Org, Name: c.Name, Domain: c.Host, Rule: c.Rule, Created: stamp(c.Created), Updated: stamp(c.Updated)}
}

type tokenJSON struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Scope    string `json:"scope"`
	Created  string `json:"created"`
	Expires  string `json:"expires,omitempty"`
	LastUsed string `json:"last_used,omitempty"`
	Revoked  string `json:"revoked,omitempty"`
	// Token is the secret, in the answer that creates it only.
	Token string `json:"token,omitempty"`
}

func tokenOf(t control.Token) tokenJSON {
	return tokenJSON{ID: t.ID, Name: t.Name, Scope: t.Scope.String(), Created: stamp(t.Created),
		Expires: stamp(t.Expires), LastUsed: stamp(t.LastUsed), Revoked: stamp(t.Revoked)}
}

// stamp formats t for the API, "" for the zero time.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

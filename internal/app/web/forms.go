package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"portico/internal/app/api"
	"portico/internal/control"
)

// A ruleKind is a kind of package the forms create: a rule type and the
// fields the form asks for. Inputs are named by their request field path
// ("rule.incoming-path"), the path the service's messages name, so that
// each message lands next to its input.
type ruleKind struct {
	Name, Type, Title string
	Fields            []ruleField
}

// A ruleField is one input of a rule form.
type ruleField struct {
	Key, Label, Help, Placeholder string
	Required                      bool
	Options                       []string
}

// Path is the field's request path.
func (f ruleField) Path() string { return "rule." + f.Key }

// kinds are the kinds of package the forms create; rules of other types
// (from the API or an import) are edited as JSON.
var kinds = []ruleKind{
	{Name: "docker", Type: "docker-v1", Title: "Docker image", Fields: []ruleField{
		{Key: "domain", Label: "Domain", Help: "the registry host users pull from", Placeholder: "cr.acme.dev", Required: true},
		{Key: "repository-name", Label: "Image name", Help: "the image path users pull", Placeholder: "acme/rocket-skates", Required: true},
		{Key: "registry", Label: "Backend registry", Help: "where the image is: a host (ghcr.io) or a URL", Placeholder: "ghcr.io", Required: true},
		{Key: "upstream-repository", Label: "Name on the registry", Help: "optional: when it differs from the image name", Placeholder: "acme-corp/rs"},
		{Key: "mode", Label: "Mode", Help: "redirect clients to the registry, stream through Portico, or choose per client (auto)", Options: []string{"auto", "redirect", "proxy"}},
	}},
	{Name: "python", Type: "python-index-v1", Title: "Python package", Fields: []ruleField{
		{Key: "domain", Label: "Domain", Help: "the index host", Placeholder: "py.acme.dev", Required: true},
		{Key: "package-name", Label: "Project name", Help: "a project name, or a glob such as acme-*", Placeholder: "rocket-skates", Required: true},
		{Key: "index-url", Label: "Upstream index", Help: "optional: the simple index the files come from (default PyPI)", Placeholder: "https://pypi.org/simple/"},
	}},
	{Name: "npm", Type: "npm-v1", Title: "npm package", Fields: []ruleField{
		{Key: "domain", Label: "Domain", Help: "the registry host", Placeholder: "npm.acme.dev", Required: true},
		{Key: "package-name", Label: "Package name", Help: "a package, a scope (@acme/*) or * for all", Placeholder: "@acme/rocket-skates", Required: true},
		{Key: "registry", Label: "Upstream registry", Help: "optional: where the packages are (default the npm registry)", Placeholder: "https://registry.npmjs.org/"},
	}},
	{Name: "file", Type: "file-v1", Title: "File download", Fields: []ruleField{
		{Key: "domain", Label: "Domain", Help: "the host users download from", Placeholder: "get.acme.dev", Required: true},
		{Key: "incoming-path", Label: "Path", Help: "a URI template of the paths users request", Placeholder: "/{version}/{os}/rocket-skates.tar.gz", Required: true},
		{Key: "outgoing-url", Label: "Backend URL", Help: "a URI template of where the file is", Placeholder: "https://github.com/acme/rocket-skates/releases/download/{version}/rocket-skates-{os}.tar.gz", Required: true},
	}},
}

// jsonKind edits rules of the types the forms do not cover.
var jsonKind = ruleKind{Name: "json", Title: "Rule (JSON)"}

// kindOf returns the form kind of a rule type.
func kindOf(typ string) ruleKind {
	for _, k := range kinds {
		if k.Type == typ {
			return k
		}
	}
	k := jsonKind
	if typ != "" {
		k.Title = typ
	}
	k.Type = typ
	return k
}

func kindNamed(name string) (ruleKind, bool) {
	for _, k := range kinds {
		if k.Name == name {
			return k, true
		}
	}
	return ruleKind{}, false
}

// ruleFromForm builds the rule a form describes over base, the rule
// being edited (nil for a new one): the form's fields replace base's, an
// optional field left empty is removed, and fields the form does not
// show are kept.
func ruleFromForm(k ruleKind, form url.Values, base map[string]any) json.RawMessage {
	if k.Name == jsonKind.Name {
		return json.RawMessage(strings.TrimSpace(form.Get("rule")))
	}
	m := map[string]any{}
	for key, v := range base {
		m[key] = v
	}
	m["type"] = k.Type
	for _, f := range k.Fields {
		v := strings.TrimSpace(form.Get(f.Path()))
		switch {
		case v == "" && !f.Required, f.Key == "mode" && v == "auto" && base["mode"] == nil:
			delete(m, f.Key)
		default:
			m[f.Key] = v
		}
	}
	b, _ := json.Marshal(m)
	return b
}

// values returns a rule's fields as a form shows them.
func values(k ruleKind, rule map[string]any) map[string]string {
	out := map[string]string{}
	for _, f := range k.Fields {
		if v, ok := rule[f.Key].(string); ok {
			out[f.Path()] = v
		}
	}
	return out
}

// templateVar matches an RFC 6570 expression.
var templateVar = regexp.MustCompile(`\{([+#./;?&]?)([^}]*)\}`)

// examplePath writes a URI template as users would type a URL from it:
// each variable as its name in capitals (VERSION), query expressions
// left out.
func examplePath(tmpl string) string {
	return templateVar.ReplaceAllStringFunc(tmpl, func(expr string) string {
		m := templateVar.FindStringSubmatch(expr)
		op, names := m[1], strings.Split(m[2], ",")
		var parts []string
		for _, n := range names {
			n = strings.TrimSuffix(n, "*")
			if i := strings.IndexByte(n, ':'); i >= 0 {
				n = n[:i]
			}
			parts = append(parts, strings.ToUpper(n))
		}
		switch op {
		case "", "+":
			return strings.Join(parts, ",")
		case "/", ".", "#":
			return op + strings.Join(parts, op)
		}
		return ""
	})
}

// installCommand is the command users type to get what a rule serves,
// built from the rule and its domain; "" for rules that serve no
// download (telemetry, pixels).
func installCommand(typ string, rule map[string]any) string {
	str := func(k string) string { s, _ := rule[k].(string); return strings.TrimSpace(s) }
	domain := str("domain")
	if domain == "" {
		domain = "DOMAIN"
	}
	or := func(s, placeholder string) string {
		if s == "" {
			return placeholder
		}
		return s
	}
	switch typ {
	case "docker-v1":
		return "docker pull " + domain + "/" + or(str("repository-name"), "IMAGE")
	case "docker-v2":
		return "docker pull " + domain + "/" + or(str("pattern"), "IMAGE")
	case "python-index-v1", "python-v1":
		return "pip install --index-url https://" + domain + "/simple/ " + or(str("package-name"), "PROJECT")
	case "npm-v1":
		return "npm install --registry https://" + domain + "/ " + or(str("package-name"), "PACKAGE")
	case "file-v1":
		return "curl -LO https://" + domain + or(examplePath(str("incoming-path")), "/PATH")
	case "file-v2", "catch-all-v1":
		return "curl -LO https://" + domain + "/PATH"
	}
	return ""
}

type packageFormData struct {
	Kind    ruleKind
	Kinds   []ruleKind
	Pkg     *control.PackageView // the package edited, nil for a new one
	Orgs    []control.OrgView
	Org     string
	Name    string
	Values  map[string]string
	Rule    string
	Domains []string
	Command string
}

// formData prepares a package form.
func (w *Web) formData(r *http.Request, p control.Principal, k ruleKind, org string) (packageFormData, error) {
	d := packageFormData{Kind: k, Kinds: kinds, Org: org, Values: map[string]string{}}
	orgs, err := w.editableOrgs(r, p)
	if err != nil {
		return d, err
	}
	d.Orgs = orgs
	if d.Org == "" && len(orgs) > 0 {
		d.Org = orgs[0].Name
	}
	// The domains the organization may serve, as suggestions.
	if d.Org != "" {
		ds, err := w.svc.ListDomains(r.Context(), p, d.Org, control.Page{Limit: control.MaxLimit})
		if err == nil {
			for _, dv := range ds {
				if dv.Status.Routes() {
					d.Domains = append(d.Domains, dv.Name)
				}
			}
		}
	}
	return d, nil
}

func (w *Web) newPackagePage(rw http.ResponseWriter, r *http.Request, p control.Principal) error {
	k, ok := kindNamed(r.URL.Query().Get("kind"))
	if !ok {
		k = kinds[0]
	}
	d, err := w.formData(r, p, k, r.URL.Query().Get("org"))
	if err != nil {
		return err
	}
	if len(d.Orgs) == 0 {
		return control.Forbidden("creating packages takes an Admin or Owner of an organization")
	}
	d.Command = installCommand(k.Type, map[string]any{})
	w.render(rw, r, http.StatusOK, "package-form", view{Title: "New " + strings.ToLower(k.Title), Nav: "packages", Me: me(&p), Data: d})
	return nil
}

func (w *Web) createPackage(rw http.ResponseWriter, r *http.Request, p control.Principal) error {
	k, ok := kindNamed(r.PostFormValue("kind"))
	if !ok {
		return control.Invalid("kind", "choose one of docker, python, npm or file")
	}
	org, name := r.PostFormValue("org"), strings.TrimSpace(r.PostFormValue("name"))
	rule := ruleFromForm(k, r.PostForm, nil)
	v, err := w.svc.CreatePackage(r.Context(), p, control.NewPackage{Org: org, Name: name, Rule: rule})
	if err != nil {
		d, derr := w.formData(r, p, k, org)
		if derr != nil {
			return derr
		}
		d.Name, d.Values = name, formValues(k, r)
		d.Command = installCommand(k.Type, ruleMap(rule))
		return w.formError(rw, r, p, "New "+strings.ToLower(k.Title), d, err)
	}
	seeOther(rw, r, "/packages/"+url.PathEscape(v.ID), "Package "+v.Name+" was created: it routes now.")
	return nil
}

// formValues returns what a form post held, to show it again.
func formValues(k ruleKind, r *http.Request) map[string]string {
	out := map[string]string{}
	for _, f := range k.Fields {
		out[f.Path()] = r.PostFormValue(f.Path())
	}
	return out
}

// formError shows a form again with the service's message next to the
// field it names, or above the form when no input of the form has that
// name.
func (w *Web) formError(rw http.ResponseWriter, r *http.Request, p control.Principal, title string, d packageFormData, err error) error {
	errs, ok := fieldErrors(err)
	if !ok {
		return err
	}
	status, _, _, _ := api.Describe(err)
	v := view{Title: title, Nav: "packages", Me: me(&p), Data: d, Errors: map[string]string{}}
	for f, msg := range errs {
		if d.hasField(f) {
			v.Errors[f] = msg
		} else if f != "" {
			v.Problem = f + ": " + msg
		} else {
			v.Problem = msg
		}
	}
	w.render(rw, r, status, "package-form", v)
	return nil
}

func (d packageFormData) hasField(path string) bool {
	if path == "name" || (path == "org" && d.Pkg == nil) || (path == "rule" && d.Kind.Name == jsonKind.Name) {
		return true
	}
	return slices.ContainsFunc(d.Kind.Fields, func(f ruleField) bool { return f.Path() == path })
}

func (w *Web) editPackagePage(rw http.ResponseWriter, r *http.Request, p control.Principal) error {
	v, err := w.svc.GetPackage(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if !v.Editable(p) {
		return control.Forbidden("changing package %q takes an Admin or Owner", v.Name)
	}
	k := kindOf(ruleType(v.Rule))
	d := packageFormData{Kind: k, Pkg: &v, Org: v.Org, Name: v.Name, Values: values(k, ruleMap(v.Rule)), Rule: string(v.Rule),
		Command: installCommand(k.Type, ruleMap(v.Rule))}
	w.render(rw, r, http.StatusOK, "package-form", view{Title: "Edit " + v.Name, Nav: "packages", Me: me(&p), Data: d})
	return nil
}

func (w *Web) updatePackage(rw http.ResponseWriter, r *http.Request, p control.Principal) error {
	v, err := w.svc.GetPackage(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	k := kindOf(ruleType(v.Rule))
	name := strings.TrimSpace(r.PostFormValue("name"))
	rule := ruleFromForm(k, r.PostForm, ruleMap(v.Rule))
	nv, err := w.svc.UpdatePackage(r.Context(), p, v.ID, control.PackagePatch{Name: &name, Rule: rule})
	if err != nil {
		d := packageFormData{Kind: k, Pkg: &v, Org: v.Org, Name: name, Values: formValues(k, r), Rule: string(rule),
			Command: installCommand(k.Type, ruleMap(rule))}
		return w.formError(rw, r, p, "Edit "+v.Name, d, err)
	}
	seeOther(rw, r, "/packages/"+url.PathEscape(nv.ID), "Package "+nv.Name+" was saved: the change routes now.")
	return nil
}

// preview answers the form's live preview: the command users will type
// with the rule as filled in so far.
func (w *Web) preview(rw http.ResponseWriter, r *http.Request, p control.Principal) error {
	q := r.URL.Query()
	k, ok := kindNamed(q.Get("kind"))
	cmd := ""
	if ok {
		cmd = installCommand(k.Type, ruleMap(ruleFromForm(k, q, nil)))
	} else {
		raw := json.RawMessage(q.Get("rule"))
		cmd = installCommand(ruleType(raw), ruleMap(raw))
	}
	h := rw.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	_, _ = rw.Write([]byte(cmd))
	return nil
}

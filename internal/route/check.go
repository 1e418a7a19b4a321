package route

import (
	"encoding/json"
	"fmt"
	"strings"

	"portico/internal/control"
	"portico/internal/gateway/python"
	"portico/internal/manifest"
)

// A Checker validates the rules of packages for the control plane, with
// the code that reads manifests, and refuses rules that could not be
// served beside the others of their host. It implements
// control.RuleChecker.
type Checker struct {
	// Others returns the rules of a host that do not come from the
	// store (the manifest's), so that a package cannot shadow them.
	Others func(host string) []manifest.Rule
}

var _ control.RuleChecker = (*Checker)(nil)

// placeholderID stands for a package's id while its rule is checked:
// rules in the store are kept without one.
const placeholderID = "package"

// CheckRule implements control.RuleChecker.
func (c *Checker) CheckRule(field string, raw json.RawMessage) (control.CheckedRule, error) {
	r, err := manifest.DecodeRule(field, raw, placeholderID)
	if err != nil {
		return control.CheckedRule{}, ruleError(field, err)
	}
	canonical, err := manifest.EncodeRuleWithoutID(r)
	if err != nil {
		return control.CheckedRule{}, err
	}
	out := control.CheckedRule{Canonical: canonical, Host: r.Common().Host}
	if id := manifest.PackageID(r); id != placeholderID {
		out.ID = id
	}
	return out, nil
}

// CheckCollection implements control.RuleChecker: a collection's rule is
// a docker-v2 rule, or a file rule whose incoming path has a {package}
// variable.
func (c *Checker) CheckCollection(field string, raw json.RawMessage) (control.CheckedRule, error) {
	cr, err := c.CheckRule(field, raw)
	if err != nil {
		return cr, err
	}
	r, err := manifest.DecodeRule(field, cr.Canonical, placeholderID)
	if err != nil {
		return cr, ruleError(field, err)
	}
	switch r := r.(type) {
	case *manifest.DockerV2:
	case *manifest.FileV1:
		if !hasVar(r.IncomingPath.Vars(), "package") {
			return cr, control.Invalid(field+".incoming-path", "a collection's template needs a {package} variable: its value names the packages the collection creates")
		}
	default:
		return cr, control.Invalid(field+".type", "a collection's rule is docker-v2 (an image pattern) or file-v1 (a template with {package}), not %s", r.Type())
	}
	return cr, nil
}

func hasVar(vars []string, name string) bool {
	for _, v := range vars {
		if v == name {
			return true
		}
	}
	return false
}

// ruleError turns the manifest decoder's located problems into one
// client error: the first problem's field, every problem in the
// message.
func ruleError(field string, err error) error {
	problems := manifest.Errors(err)
	if len(problems) == 0 {
		return control.Invalid(field, "%v", err)
	}
	msgs := make([]string, len(problems))
	for i, p := range problems {
		msgs[i] = p.Err.Error()
		if p.Field != "" {
			msgs[i] = p.Field + ": " + msgs[i]
		}
	}
	first := field
	if problems[0].Field != "" {
		first = field + "." + problems[0].Field
	}
	if len(problems) == 1 {
		return control.Invalid(first, "%s", problems[0].Err)
	}
	return control.Invalid(first, "%s", strings.Join(msgs, "; "))
}

// CheckHost implements control.RuleChecker. Two rules of one host that
// answer exactly the same requests are a conflict (whichever comes first
// would shadow the other for good), and so are docker rules with
// different registries: registry clients ask one host one registry.
func (c *Checker) CheckHost(host string, rules []control.HostRule) error {
	type owner struct {
		what string // "package NAME (ID)", "collection NAME (ID)" or "the manifest's rules[i]"
		rule manifest.Rule
	}
	var owners []owner
	if c.Others != nil {
		for _, r := range c.Others(host) {
			owners = append(owners, owner{fmt.Sprintf("the manifest's rules[%d] (%s)", r.Common().Index, r.Type()), r})
		}
	}
	for _, hr := range rules {
		r, err := manifest.DecodeRule("store", hr.Rule, hr.ID)
		if err != nil {
			return fmt.Errorf("%s %s: stored rule: %w", hr.Kind, hr.ID, err)
		}
		owners = append(owners, owner{fmt.Sprintf("%s %q (%s)", hr.Kind, hr.Name, hr.ID), r})
	}
	candidate := len(owners) - 1 // the last rule is the one being placed
	if len(rules) == 0 {
		return nil
	}
	cand := owners[candidate]
	for _, o := range owners[:candidate] {
		if registry, other := dockerRegistry(cand.rule), dockerRegistry(o.rule); registry != "" && other != "" && registry != other {
			return control.Conflict("rule.registry", "%s serves docker images from %s on %s (%s): one host has one registry, as registry clients expect", o.what, other, host, "choose that registry or another domain")
		}
		if k := matchKey(cand.rule); k != "" && k == matchKey(o.rule) {
			return control.Conflict("rule", "%s answers exactly the same requests on %s: one of the two would never be used", o.what, host)
		}
	}
	return nil
}

// dockerRegistry returns the registry of a docker rule, "" for others.
func dockerRegistry(r manifest.Rule) string {
	switch r := r.(type) {
	case *manifest.DockerV1:
		return r.Registry.URL()
	case *manifest.DockerV2:
		return r.Registry.URL()
	}
	return ""
}

// matchKey names what a rule answers: two rules of one host with the same
// key answer the same requests. "" means the rule kind has no such key.
func matchKey(r manifest.Rule) string {
	switch r := r.(type) {
	case *manifest.DockerV1:
		name := strings.ToLower(r.RepositoryName)
		if !strings.Contains(name, "/") {
			name = "library/" + name
		}
		return "docker " + name
	case *manifest.DockerV2:
		return "docker-pattern " + r.PatternText
	case *manifest.FileV1:
		return "file-v1 " + r.IncomingPath.String()
	case *manifest.FileV2:
		return "file-v2 " + strings.TrimSpace(r.IncomingPath)
	case *manifest.PythonV1:
		return "python-file " + python.Normalize(r.PackageName) + " " + r.FileName
	case *manifest.PythonIndex:
		return "python-project " + r.PackageName
	case *manifest.NPM:
		return "npm " + r.PackageName
	case *manifest.Telemetry:
		return "telemetry " + r.IncomingPath
	case *manifest.Pixel:
		return "pixel"
	case *manifest.ScarfJS:
		return "scarf-js"
	case *manifest.CatchAll:
		return "catch-all"
	}
	return ""
}

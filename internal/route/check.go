package route

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"portico/internal/control"
	"portico/internal/gateway/docker"
	"portico/internal/gateway/file"
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
// rules in the store are kept without one. A rule may name this very id
// itself: manifest.HasID, not the decoded id, tells whether it did.
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
	if manifest.HasID(raw) {
		out.ID = manifest.PackageID(r)
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
		if f, err := file.CheckCollection(r); err != nil {
			return cr, control.Invalid(field+"."+f, "%v", err)
		}
	default:
		return cr, control.Invalid(field+".type", "a collection's rule is docker-v2 (an image pattern) or file-v1 (a template with {package}), not %s", r.Type())
	}
	return cr, nil
}

// CollectionRule implements control.RuleChecker: the package of a docker
// image is a docker-v1 rule for the image (docker.CollectionPackage), the
// package of a {package} value the collection's file-v1 rule with the
// value written in (file.CollectionPackage).
func (c *Checker) CollectionRule(raw json.RawMessage, artifact string) (control.CheckedRule, error) {
	r, err := manifest.DecodeRule("collection", raw, placeholderID)
	if err != nil {
		return control.CheckedRule{}, fmt.Errorf("collection's stored rule: %w", err)
	}
	var pkg manifest.Rule
	switch r := r.(type) {
	case *manifest.DockerV2:
		pkg, err = docker.CollectionPackage(r, artifact)
	case *manifest.FileV1:
		pkg, err = file.CollectionPackage(r, artifact)
	default:
		err = fmt.Errorf("a collection's rule is docker-v2 or file-v1, not %s", r.Type())
	}
	if err != nil {
		return control.CheckedRule{}, control.Invalid("artifact", "%v", err)
	}
	data, err := manifest.EncodeRuleWithoutID(pkg)
	if err != nil {
		return control.CheckedRule{}, err
	}
	// The package's rule is checked as any package's is.
	return c.CheckRule("rule", data)
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
	if len(rules) == 0 {
		return nil
	}
	check, err := c.HostCheck(host, rules[:len(rules)-1])
	if err != nil {
		return err
	}
	return check(rules[len(rules)-1])
}

// HostCheck implements control.RuleChecker: CheckHost for candidates
// one after another, each rule decoded once, each candidate checked in
// constant time.
func (c *Checker) HostCheck(host string, rules []control.HostRule) (func(control.HostRule) error, error) {
	h := &hostRules{host: host, keys: map[string]hostRule{}}
	if c.Others != nil {
		for _, r := range c.Others(host) {
			h.add(fmt.Sprintf("the manifest's rules[%d] (%s)", r.Common().Index, r.Type()), r)
		}
	}
	for _, hr := range rules {
		r, err := decodeStored(hr)
		if err != nil {
			return nil, err
		}
		h.add(ownerName(hr), r)
	}
	return func(hr control.HostRule) error {
		r, err := decodeStored(hr)
		if err != nil {
			return err
		}
		if err := h.check(r); err != nil {
			return err
		}
		h.add(ownerName(hr), r)
		return nil
	}, nil
}

func decodeStored(hr control.HostRule) (manifest.Rule, error) {
	r, err := manifest.DecodeRule("store", hr.Rule, hr.ID)
	if err != nil {
		return nil, fmt.Errorf("%s %s: stored rule: %w", hr.Kind, hr.ID, err)
	}
	return r, nil
}

// ownerName names a stored rule in conflicts: `package "NAME" (ID)` or
// `collection "NAME" (ID)`.
func ownerName(hr control.HostRule) string { return fmt.Sprintf("%s %q (%s)", hr.Kind, hr.Name, hr.ID) }

// hostRules are the rules of one host, as CheckHost compares them: what
// each answers, and the registries of its docker rules.
type hostRules struct {
	host string
	n    int // rules added
	// keys holds the first rule with each match key.
	keys map[string]hostRule
	// registries holds the first rule of each distinct docker registry.
	registries []hostRule
}

// A hostRule names a rule ("package NAME (ID)") and says where it came
// among the host's rules; url is a docker rule's registry.
type hostRule struct {
	what, url string
	at        int
}

func (h *hostRules) add(what string, r manifest.Rule) {
	if k := matchKey(r); k != "" {
		if _, ok := h.keys[k]; !ok {
			h.keys[k] = hostRule{what: what, at: h.n}
		}
	}
	if reg := dockerRegistry(r); reg != "" && !slices.ContainsFunc(h.registries, func(x hostRule) bool { return x.url == reg }) {
		h.registries = append(h.registries, hostRule{what: what, url: reg, at: h.n})
	}
	h.n++
}

// check refuses r for the first rule, in the order they were added, that
// conflicts with it.
func (h *hostRules) check(r manifest.Rule) error {
	reg, haveReg := hostRule{}, false
	if mine := dockerRegistry(r); mine != "" {
		for _, x := range h.registries {
			if x.url != mine && (!haveReg || x.at < reg.at) {
				reg, haveReg = x, true
			}
		}
	}
	k := matchKey(r)
	same, haveSame := h.keys[k]
	haveSame = haveSame && k != ""
	switch {
	case haveReg && (!haveSame || reg.at <= same.at):
		return control.Conflict("rule.registry", "%s serves docker images from %s on %s (%s): one host has one registry, as registry clients expect", reg.what, reg.url, h.host, "choose that registry or another domain")
	case haveSame:
		return control.Conflict("rule", "%s answers exactly the same requests on %s: one of the two would never be used", same.what, h.host)
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

package manifest

import "portico/internal/imagepattern"

// DockerV1 serves one or more named container images from a registry.
type DockerV1 struct {
	Base
	PackageID      string
	RepositoryName string
	Registry       Backend
	AlwaysProxy    bool
	PackageName    string
	Owner          string
}

func (*DockerV1) Type() string { return TypeDockerV1 }

func (r *DockerV1) encode(o *object) {
	o.add("package-id", r.PackageID)
	o.add("repository-name", r.RepositoryName)
	o.add("registry", r.Registry.Text)
	o.flag("always-proxy", r.AlwaysProxy)
	o.add("package-name", r.PackageName)
	o.add("owner", r.Owner)
}

// DockerV2 serves every image whose name matches a pattern ("collection",
// automatic package creation).
type DockerV2 struct {
	Base
	Pattern     *imagepattern.Pattern
	PatternText string
	RuleID      string
	Registry    Backend
	AlwaysProxy bool
	Owner       string
}

func (*DockerV2) Type() string { return TypeDockerV2 }

func (r *DockerV2) encode(o *object) {
	o.add("pattern", r.PatternText)
	o.add("rule-id", r.RuleID)
	o.add("registry", r.Registry.Text)
	o.flag("always-proxy", r.AlwaysProxy)
	o.opt("owner", r.Owner)
}

func (f *fields) dockerV1() Rule {
	r := &DockerV1{Base: f.base()}
	r.PackageID = f.str("package-id")
	r.RepositoryName = f.nonEmpty("repository-name")
	if r.RepositoryName != "" {
		if err := checkRepositoryName(r.RepositoryName); err != nil {
			f.fail("repository-name", err)
		}
	}
	r.Registry = f.backend("registry")
	r.AlwaysProxy = f.flag("always-proxy")
	r.PackageName = f.optStr("package-name")
	r.Owner = f.optStr("owner")
	return r
}

func (f *fields) dockerV2() Rule {
	r := &DockerV2{Base: f.base()}
	var ok bool
	if r.PatternText, ok = f.strOK("pattern"); ok {
		p, err := imagepattern.Parse(r.PatternText)
		if err != nil {
			f.fail("pattern", err)
		}
		r.Pattern = p
	}
	r.RuleID = f.str("rule-id")
	r.Registry = f.backend("registry")
	r.AlwaysProxy = f.flag("always-proxy")
	r.Owner = f.optStr("owner")
	return r
}

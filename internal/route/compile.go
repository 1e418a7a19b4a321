package route

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"portico/internal/gateway"
	"portico/internal/gateway/docker"
	"portico/internal/gateway/file"
	"portico/internal/gateway/npm"
	"portico/internal/gateway/python"
	"portico/internal/gateway/telemetry"
	"portico/internal/manifest"
	"portico/internal/uritemplate"
)

// Options are the dependencies rules need at request time. The docker,
// python and npm options have required fields (see their Validate
// methods): compiling a rule of one of those kinds without them fails.
type Options struct {
	Docker docker.Options
	// Python and NPM carry the caches of upstream index pages and
	// packuments, which outlive every table.
	Python python.Options
	NPM    npm.Options
	// BodyTimeout bounds the time to receive a request body that a rule
	// reads; zero means gateway.DefaultBodyTimeout.
	BodyTimeout time.Duration
}

// Validate reports the first required field that o lacks, for any rule
// kind. Compiling checks only the kinds it meets; a process validates
// its options at startup, so that a rule of another kind added later
// (through the control plane) cannot be the first to find them missing.
func (o *Options) Validate() error {
	if err := o.Docker.Validate(); err != nil {
		return err
	}
	if err := o.Python.Validate(); err != nil {
		return err
	}
	return o.NPM.Validate()
}

// Precedence of rule kinds within a domain, as in Scarf Gateway.
const (
	rankDockerV1 = iota
	rankDockerV2
	rankPixel
	rankScarfJS
	rankFileV1
	rankFileV2
	rankPython
	rankTelemetry
	rankNPM
	// A collection's file-v1 rule comes after every package of its
	// domain, but before catch-all-v1, which would leave it nothing.
	rankFileCollection
	rankCatchAll
)

// entry is a rule being placed in a domain's order.
type entry struct {
	rank  int
	index int      // position among the domain's rules
	spec  []string // file-v1 specificity key
	src   string   // file-v2 expression
	rule  gateway.Rule
	// A rule is reached through one of: the literal prefix of its raw
	// path (prefixed), the decoded first path segment it requires
	// (keyed), or neither (any request).
	prefix   string
	prefixed bool
	seg      string
	keyed    bool
}

// A RuleSet is the rules of one source, such as a manifest file, at one
// version.
type RuleSet struct {
	// Name identifies the source in errors: a manifest's path.
	Name string
	// Version identifies the content of the rules, and changes whenever
	// they do. Sources set it, for whoever watches them; compiling does
	// not read it.
	Version string
	// Rules are validated rules, in the source's order.
	Rules []manifest.Rule
	// Collections are the rules of collections: each serves what no
	// rule of its domain serves, and creates packages (see Collection).
	Collections []Collection
	// Hosts are the hosts the source serves, with their settings,
	// whether or not it has rules for them yet: the store's verified
	// domains and its organizations' domains under the base domain.
	// They get certificates (Table.Serves) from the first request on.
	Hosts []Host
}

// A Host is a host a source serves.
type Host struct {
	// Name is a host key (manifest.HostKey).
	Name string `json:"name"`
	// HTTPSOnly redirects the host's plain HTTP requests to HTTPS, as a
	// rule's "https-only" does.
	HTTPSOnly bool `json:"https_only,omitempty"`
}

// A Collection is the rule of a collection: a docker-v2 rule, or a
// file-v1 rule with a {package} variable (file.CheckCollection). It
// compiles into the table as an ordinary rule that every rule of its
// domain takes precedence over, whatever their source: a docker-v2 rule
// tried after the domain's docker rules, a file-v1 rule after every
// kind but catch-all-v1. Its downloads count under the id of the
// package the collection creates for each artifact, and report the
// artifact in gateway.Result.Collected.
type Collection struct {
	// ID is the collection's id.
	ID   string
	Rule manifest.Rule
}

// Compile builds a routing table from a validated manifest.
func Compile(m *manifest.Manifest, opts Options) (*Table, error) {
	return CompileSets(opts, RuleSet{Rules: m.Rules})
}

// CompileSets builds one routing table from the rules of any number of
// sources. They are compiled as if they were one manifest, the sets
// concatenated in the order given: on a domain that several sources
// serve, rules follow the precedence they would within one manifest,
// and where it ties (rules of the same kind and specificity; the first
// python-v1 rule of a file or npm-v1 rule of a package takes it), the
// earlier source wins.
func CompileSets(opts Options, sets ...RuleSet) (*Table, error) {
	byHost := make(map[string][]manifest.Rule)
	var collsByHost map[string][]Collection
	var hosts []string
	seen := func(h string) bool {
		_, rules := byHost[h]
		_, colls := collsByHost[h]
		return rules || colls
	}
	for _, set := range sets {
		for _, r := range set.Rules {
			h := r.Common().Host
			if !seen(h) {
				hosts = append(hosts, h)
			}
			byHost[h] = append(byHost[h], r)
		}
	}
	for _, set := range sets {
		for _, c := range set.Collections {
			if collsByHost == nil {
				collsByHost = make(map[string][]Collection)
			}
			h := c.Rule.Common().Host
			if !seen(h) {
				hosts = append(hosts, h)
			}
			collsByHost[h] = append(collsByHost[h], c)
		}
	}
	t := &Table{domains: make(map[string]*Domain, len(hosts)), served: make(map[string]bool, len(hosts))}
	for _, set := range sets {
		for _, h := range set.Hosts {
			t.served[h.Name] = t.served[h.Name] || h.HTTPSOnly
		}
	}
	for _, h := range hosts {
		d, err := compileDomain(h, byHost[h], collsByHost[h], opts)
		if err != nil {
			return nil, fmt.Errorf("%sdomain %s: %w", sourcesOf(h, sets), h, err)
		}
		// One rule of any source that asks for HTTPS only makes the
		// whole domain so: a plain request cannot know which rule it
		// would have matched before it is redirected.
		d.httpsOnly = t.served[h] ||
			slices.ContainsFunc(byHost[h], func(r manifest.Rule) bool { return r.Common().HTTPSOnly }) ||
			slices.ContainsFunc(collsByHost[h], func(c Collection) bool { return c.Rule.Common().HTTPSOnly })
		t.served[h] = d.httpsOnly
		t.domains[h] = d
		t.rules += len(byHost[h]) + len(collsByHost[h])
	}
	return t, nil
}

// sourcesOf names the sources that have rules for host, as the prefix of
// an error: "manifest.json: ".
func sourcesOf(host string, sets []RuleSet) string {
	var names []string
	for _, set := range sets {
		if set.Name != "" && (slices.ContainsFunc(set.Rules, func(r manifest.Rule) bool { return r.Common().Host == host }) ||
			slices.ContainsFunc(set.Collections, func(c Collection) bool { return c.Rule.Common().Host == host })) {
			names = append(names, set.Name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	return strings.Join(names, ", ") + ": "
}

func compileDomain(host string, rules []manifest.Rule, colls []Collection, opts Options) (*Domain, error) {
	entries := make([]entry, 0, len(rules)+len(colls))
	var pythonRules []*manifest.PythonV1
	var dockerV1 []*manifest.DockerV1
	var dockerV2 []*manifest.DockerV2
	var dockerColls []*manifest.DockerV2
	var pythonIndexes []*manifest.PythonIndex
	var npmRules []*manifest.NPM
	for i, r := range rules {
		// A rule's position among the domain's rules of every source:
		// within one manifest, the order of its index.
		e := entry{index: i}
		switch r := r.(type) {
		case *manifest.DockerV1:
			// All docker rules of a domain form one handler, placed
			// where the first of them is (docker-v1 before docker-v2).
			dockerV1 = append(dockerV1, r)
			if len(dockerV1) > 1 {
				continue
			}
			e.rank, e.seg, e.keyed = rankDockerV1, "v2", true
		case *manifest.DockerV2:
			dockerV2 = append(dockerV2, r)
			if len(dockerV2) > 1 {
				continue
			}
			e.rank, e.seg, e.keyed = rankDockerV2, "v2", true
		case *manifest.Pixel:
			e.rank, e.seg, e.keyed = rankPixel, "a.png", true
			e.rule = telemetry.NewPixel(r)
		case *manifest.ScarfJS:
			e.rank, e.seg, e.keyed = rankScarfJS, "package-event", true
			e.rule = telemetry.NewScarfJS(r)
		case *manifest.FileV1:
			e.rank = rankFileV1
			e.spec = specificity(r.IncomingPath)
			e.prefix, e.prefixed = literalPrefix(r.IncomingPath), true
			e.rule = file.NewV1(r)
		case *manifest.FileV2:
			e.rank, e.src = rankFileV2, r.IncomingPath
			e.rule = file.NewV2(r)
		case *manifest.PythonV1:
			// All python-v1 rules of a domain form one repository,
			// placed where the first of them is.
			pythonRules = append(pythonRules, r)
			if len(pythonRules) > 1 || len(pythonIndexes) > 0 {
				continue
			}
			e.rank, e.seg, e.keyed = rankPython, "simple", true
		case *manifest.PythonIndex:
			// python-index-v1 rules join the same repository.
			pythonIndexes = append(pythonIndexes, r)
			if len(pythonRules) > 0 || len(pythonIndexes) > 1 {
				continue
			}
			e.rank, e.seg, e.keyed = rankPython, "simple", true
		case *manifest.NPM:
			// All npm-v1 rules of a domain form one registry. It takes
			// any path (package names are first segments), so it comes
			// after every other kind but catch-all.
			npmRules = append(npmRules, r)
			if len(npmRules) > 1 {
				continue
			}
			e.rank = rankNPM
		case *manifest.Telemetry:
			e.rank = rankTelemetry
			t := telemetry.NewTelemetry(r)
			e.seg, e.keyed = t.FirstSegment()
			e.rule = t
		case *manifest.CatchAll:
			e.rank = rankCatchAll
			e.rule = file.NewCatchAll(r)
		default:
			return nil, fmt.Errorf("rules[%d]: rule type %s has no handler", r.Common().Index, r.Type())
		}
		entries = append(entries, e)
	}
	for i, c := range colls {
		e := entry{index: len(rules) + i}
		switch r := c.Rule.(type) {
		case *manifest.DockerV2:
			if r.RuleID != c.ID {
				// Events name the collection as the rule that served.
				cp := *r
				cp.RuleID = c.ID
				r = &cp
			}
			dockerColls = append(dockerColls, r)
			if len(dockerV1)+len(dockerV2)+len(dockerColls) > 1 {
				continue
			}
			e.rank, e.seg, e.keyed = rankDockerV2, "v2", true
		case *manifest.FileV1:
			if field, err := file.CheckCollection(r); err != nil {
				return nil, fmt.Errorf("collection %s: %s: %w", c.ID, field, err)
			}
			e.rank = rankFileCollection
			e.spec = specificity(r.IncomingPath)
			e.prefix, e.prefixed = literalPrefix(r.IncomingPath), true
			e.rule = file.NewCollection(r, c.ID)
		default:
			return nil, fmt.Errorf("collection %s: a collection's rule is docker-v2 or file-v1, not %s", c.ID, c.Rule.Type())
		}
		entries = append(entries, e)
	}
	if len(pythonRules) > 0 || len(pythonIndexes) > 0 {
		repo, err := python.New(pythonRules, pythonIndexes, opts.Python)
		if err != nil {
			return nil, err
		}
		for i := range entries {
			if entries[i].rank == rankPython {
				entries[i].rule = repo
			}
		}
	}
	if len(dockerV1)+len(dockerV2)+len(dockerColls) > 0 {
		h, err := docker.New(dockerV1, dockerV2, dockerColls, opts.Docker)
		if err != nil {
			return nil, err
		}
		first := rankDockerV2
		if len(dockerV1) > 0 {
			first = rankDockerV1
		}
		entries = slices.DeleteFunc(entries, func(e entry) bool {
			return (e.rank == rankDockerV1 || e.rank == rankDockerV2) && e.rank != first
		})
		for i := range entries {
			if entries[i].rank == first {
				entries[i].rule = h
			}
		}
	}
	if len(npmRules) > 0 {
		reg, err := npm.New(npmRules, opts.NPM)
		if err != nil {
			return nil, err
		}
		for i := range entries {
			if entries[i].rank == rankNPM {
				entries[i].rule = reg
			}
		}
	}
	slices.SortStableFunc(entries, compareEntries)

	d := &Domain{Name: host, rules: make([]gateway.Rule, len(entries)), segs: make(map[string][]int32), bodyTimeout: opts.BodyTimeout}
	for i, e := range entries {
		d.rules[i] = e.rule
		switch {
		case e.prefixed:
			d.prefixes.insert(e.prefix, int32(i))
		case e.keyed:
			d.segs[e.seg] = append(d.segs[e.seg], int32(i))
			d.segRules = append(d.segRules, int32(i))
		default:
			d.wild = append(d.wild, int32(i))
		}
	}
	return d, nil
}

// compareEntries orders rules by kind, then file-v1 rules from most to
// least specific and file-v2 rules by expression, then by manifest order.
func compareEntries(a, b entry) int {
	if c := cmp.Compare(a.rank, b.rank); c != 0 {
		return c
	}
	switch a.rank {
	case rankFileV1, rankFileCollection:
		if c := slices.Compare(b.spec, a.spec); c != 0 {
			return c
		}
	case rankFileV2:
		if c := strings.Compare(a.src, b.src); c != 0 {
			return c
		}
	}
	return cmp.Compare(a.index, b.index)
}

// specificity is Scarf's sort key for file-v1 templates: the template
// expanded with every variable empty, split on '/', empty pieces dropped.
// Longer literal paths sort first.
func specificity(t *uritemplate.Template) []string {
	var key []string
	for piece := range strings.SplitSeq(t.ExpandEmpty(), "/") {
		if piece != "" {
			key = append(key, piece)
		}
	}
	return key
}

// literalPrefix returns the text every raw path matching t starts with:
// the template's leading literal, up to any '?', written as it appears in
// a raw path (non-ASCII characters percent-encoded in upper case, as the
// matcher requires them).
func literalPrefix(t *uritemplate.Template) string {
	var b strings.Builder
	for _, p := range t.Parts() {
		if p.Expr != nil {
			break
		}
		lit := p.Literal
		if i := strings.IndexByte(lit, '?'); i >= 0 {
			lit = lit[:i]
			writeRawLiteral(&b, lit)
			break
		}
		writeRawLiteral(&b, lit)
	}
	return b.String()
}

func writeRawLiteral(b *strings.Builder, lit string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(lit); i++ {
		if c := lit[i]; c >= 0x80 {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		} else {
			b.WriteByte(c)
		}
	}
}

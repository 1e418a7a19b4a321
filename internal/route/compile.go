package route

import (
	"bytes"
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
	"portico/internal/upstream"
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
	// Health keeps the health of the backends of rules with a fallback:
	// file rules redirect to their fallback while it finds their host
	// down. Nil: file rules never fall back.
	Health *upstream.Health
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
	index int // position among the domain's rules
	// spec is the file-v1 specificity key, compiler.spec[specLo:specHi].
	specLo, specHi int32
	src            string // file-v2 expression
	rule           gateway.Rule
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
	return Recompile(nil, opts, sets...)
}

// Recompile is CompileSets that takes from prev, a table compiled with
// the same options, every domain that would compile the same: its rules
// and its collections the same values in the same order, and its
// https-only setting unchanged. After a change to a few rules of one
// source, only their domains are compiled, and the new table shares the
// rest with prev. prev may be nil.
func Recompile(prev *Table, opts Options, sets ...RuleSet) (*Table, error) {
	// The rules, grouped by host in order of first appearance, in one
	// array: hosts[i]'s are grouped[start[i]:start[i+1]]. Hosts that
	// have collections and no rules follow, with none.
	index := make(map[string]int32)
	var hosts []string
	var start []int32
	n := 0
	for _, set := range sets {
		for _, r := range set.Rules {
			h := r.Common().Host
			i, ok := index[h]
			if !ok {
				i = int32(len(hosts))
				index[h] = i
				hosts = append(hosts, h)
				start = append(start, 0)
			}
			start[i]++
			n++
		}
	}
	// Collections are few beside rules: a map of them is cheap, and
	// none is made without them.
	var collsByHost map[string][]Collection
	nColls := 0
	for _, set := range sets {
		for _, c := range set.Collections {
			if collsByHost == nil {
				collsByHost = make(map[string][]Collection)
			}
			h := c.Rule.Common().Host
			if _, ok := index[h]; !ok {
				index[h] = int32(len(hosts))
				hosts = append(hosts, h)
				start = append(start, 0)
			}
			collsByHost[h] = append(collsByHost[h], c)
			nColls++
		}
	}
	start = append(start, 0)
	sum := int32(0)
	for i, c := range start {
		start[i], sum = sum, sum+c
	}
	grouped := make([]manifest.Rule, n)
	next := slices.Clone(start)
	for _, set := range sets {
		for _, r := range set.Rules {
			i := index[r.Common().Host]
			grouped[next[i]] = r
			next[i]++
		}
	}

	t := &Table{
		domains: make(map[string]*Domain, len(hosts)),
		served:  make(map[string]bool, len(hosts)),
		rules:   n + nColls,
	}
	for _, set := range sets {
		for _, h := range set.Hosts {
			t.served[h.Name] = t.served[h.Name] || h.HTTPSOnly
		}
	}
	c := compiler{opts: opts}
	for i, h := range hosts {
		rules := grouped[start[i]:start[i+1]]
		colls := collsByHost[h]
		// One rule of any source that asks for HTTPS only makes the
		// whole domain so: a plain request cannot know which rule it
		// would have matched before it is redirected.
		httpsOnly := t.served[h] ||
			slices.ContainsFunc(rules, func(r manifest.Rule) bool { return r.Common().HTTPSOnly }) ||
			slices.ContainsFunc(colls, func(c Collection) bool { return c.Rule.Common().HTTPSOnly })
		t.served[h] = httpsOnly
		if prev != nil {
			if d := prev.domains[h]; d != nil && d.httpsOnly == httpsOnly &&
				slices.Equal(d.src, rules) && slices.Equal(d.colls, colls) {
				t.domains[h] = d
				continue
			}
		}
		d, err := c.domain(h, rules, colls)
		if err != nil {
			return nil, fmt.Errorf("%sdomain %s: %w", sourcesOf(h, sets), h, err)
		}
		d.httpsOnly = httpsOnly
		t.domains[h] = d
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

// compiler compiles domains one after another, reusing its scratch
// space: a table of a hundred thousand rules is compiled without
// garbage per rule beyond what the rules keep.
type compiler struct {
	opts     Options
	entries  []entry
	spec     []byte // the entries' specificity keys
	prefixes radixBuilder
}

// domain compiles the rules and collections of host. The domain keeps
// copies of the slices, never the slices themselves.
func (c *compiler) domain(host string, rules []manifest.Rule, colls []Collection) (*Domain, error) {
	opts := c.opts
	clear(c.entries)
	entries := c.entries[:0]
	c.spec = c.spec[:0]
	defer func() { c.entries = entries }()
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
			e.specLo = int32(len(c.spec))
			c.spec = r.IncomingPath.AppendExpandEmpty(c.spec)
			e.specHi = int32(len(c.spec))
			e.prefix, e.prefixed = literalPrefix(r.IncomingPath), true
			v := file.NewV1(r)
			if r.Fallback != nil {
				v.SetFallback(opts.Health)
			}
			e.rule = v
		case *manifest.FileV2:
			e.rank, e.src = rankFileV2, r.IncomingPath
			v := file.NewV2(r)
			if r.Fallback != nil {
				v.SetFallback(r, opts.Health)
			}
			e.rule = v
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
	for i, coll := range colls {
		e := entry{index: len(rules) + i}
		switch r := coll.Rule.(type) {
		case *manifest.DockerV2:
			if r.RuleID != coll.ID {
				// Events name the collection as the rule that served.
				cp := *r
				cp.RuleID = coll.ID
				r = &cp
			}
			dockerColls = append(dockerColls, r)
			if len(dockerV1)+len(dockerV2)+len(dockerColls) > 1 {
				continue
			}
			e.rank, e.seg, e.keyed = rankDockerV2, "v2", true
		case *manifest.FileV1:
			if field, err := file.CheckCollection(r); err != nil {
				return nil, fmt.Errorf("collection %s: %s: %w", coll.ID, field, err)
			}
			e.rank = rankFileCollection
			e.specLo = int32(len(c.spec))
			c.spec = r.IncomingPath.AppendExpandEmpty(c.spec)
			e.specHi = int32(len(c.spec))
			e.prefix, e.prefixed = literalPrefix(r.IncomingPath), true
			e.rule = file.NewCollection(r, coll.ID)
		default:
			return nil, fmt.Errorf("collection %s: a collection's rule is docker-v2 or file-v1, not %s", coll.ID, coll.Rule.Type())
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
	slices.SortStableFunc(entries, c.compare)

	d := &Domain{Name: host, src: slices.Clone(rules), colls: slices.Clone(colls), rules: make([]gateway.Rule, len(entries)), bodyTimeout: opts.BodyTimeout}
	c.prefixes.reset()
	for i, e := range entries {
		d.rules[i] = e.rule
		switch {
		case e.prefixed:
			c.prefixes.insert(e.prefix, int32(i))
		case e.keyed:
			if d.segs == nil {
				d.segs = make(map[string][]int32)
			}
			d.segs[e.seg] = append(d.segs[e.seg], int32(i))
			d.segRules = append(d.segRules, int32(i))
		default:
			d.wild = append(d.wild, int32(i))
		}
	}
	d.prefixes = c.prefixes.build()
	return d, nil
}

// compare orders rules by kind, then file-v1 rules from most to least
// specific and file-v2 rules by expression, then by manifest order.
func (c *compiler) compare(a, b entry) int {
	if r := cmp.Compare(a.rank, b.rank); r != 0 {
		return r
	}
	switch a.rank {
	case rankFileV1, rankFileCollection:
		if r := comparePieces(c.spec[b.specLo:b.specHi], c.spec[a.specLo:a.specHi]); r != 0 {
			return r
		}
	case rankFileV2:
		if r := strings.Compare(a.src, b.src); r != 0 {
			return r
		}
	}
	return cmp.Compare(a.index, b.index)
}

// comparePieces compares Scarf's sort keys of two file-v1 templates,
// each expanded with every variable empty: the pieces between slashes,
// empty pieces dropped, compared as slices.Compare compares slices of
// them. Longer literal paths sort first.
func comparePieces(a, b []byte) int {
	for {
		pa, ra, oka := nextPiece(a)
		pb, rb, okb := nextPiece(b)
		switch {
		case !oka && !okb:
			return 0
		case !oka:
			return -1
		case !okb:
			return 1
		}
		if r := bytes.Compare(pa, pb); r != 0 {
			return r
		}
		a, b = ra, rb
	}
}

// nextPiece returns the first non-empty piece of s between slashes, and
// what follows it.
func nextPiece(s []byte) (piece, rest []byte, ok bool) {
	for len(s) > 0 && s[0] == '/' {
		s = s[1:]
	}
	if len(s) == 0 {
		return nil, nil, false
	}
	if i := bytes.IndexByte(s, '/'); i >= 0 {
		return s[:i], s[i:], true
	}
	return s, nil, true
}

// literalPrefix returns the text every raw path matching t starts with:
// the template's leading literal, up to any '?', written as it appears in
// a raw path (non-ASCII characters percent-encoded in upper case, as the
// matcher requires them). It is part of the template's own text, so the
// radix trees that index rules by it hold no copy.
func literalPrefix(t *uritemplate.Template) string {
	lead := t.LeadingLiteral()
	if i := strings.IndexByte(lead, '?'); i >= 0 {
		lead = lead[:i]
	}
	return lead
}

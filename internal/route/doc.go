// Package route compiles manifests into immutable routing tables and
// serves every gateway request from the current one.
//
// A table is compiled from the rules of any number of sources (a
// manifest file, the store), each a RuleSet; they are placed as if they
// were one manifest, in the order given. The table does not keep where a
// rule came from: the request path is the same for every source.
//
// A Table maps each host to its Domain: the domain's rules sorted by
// precedence, plus an index from the first path segment to the rules that
// can only match requests starting with it. A request costs one map lookup
// for the host and one for the segment, then tries only the candidate
// rules, so lookup time does not grow with the number of domains or rules.
//
// The Router holds the current Table in an atomic pointer. A new manifest
// is compiled off to the side and swapped in whole; a request sees either
// the old table or the new one, never a mix, and no lock is taken on the
// request path. Domains are immutable too, so a table compiled after a
// change (Recompile) shares with the one before it every domain whose
// rules, collections and https-only setting did not change: a write to
// one package compiles one domain.
//
// Precedence within a domain follows Scarf Gateway: docker-v1, docker-v2,
// pixel, scarf-js, file-v1 (most specific template first), file-v2 (by
// expression), python (python-v1 and python-index-v1, one index per
// domain), telemetry, npm (one registry per domain; it takes any package
// path, so only catch-all follows it), catch-all; rules of the same kind
// and specificity keep manifest order. Unlike Scarf's, the order is total, so
// the same manifest always routes the same way.
//
// Collections (RuleSet.Collections) compile to ordinary rules placed
// after every rule of their domain: a docker collection after the
// domain's docker rules, a file collection after every kind but
// catch-all. A rule compiled from a collection counts each download
// under the id of the package the collection creates for the artifact,
// and the Router hands the downloads to its Collector, which creates
// the packages off the request path.
package route

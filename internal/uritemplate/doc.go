// Package uritemplate implements RFC 6570 URI templates with the exact
// parsing, expansion and matching behaviour of the Haskell Burrito library,
// which Scarf Gateway manifests are written against. A file rule matches
// its incoming-path template against the raw request path and expands its
// outgoing-url template with the variables it bound.
//
// # Syntax
//
// A template is a sequence of literals and {…} expressions. A literal
// character is any printable ASCII character except space " ' % < > \ ^ `
// { | }, or a non-ASCII character of RFC 6570's ucschar and iprivate
// ranges; '%' must start a %HH triplet. An expression is '{', an optional
// operator (+ # . / ; ? &), and comma-separated variables '}'. A variable
// name is one or more fields of [A-Za-z0-9_] or %HH separated by single
// dots, optionally followed by '*' (explode) or ":N" with 1 ≤ N ≤ 9999.
// A template has at most MaxLen bytes and MaxVars variables (see Cost).
// Anything else is a *SyntaxError.
//
// # Expansion
//
// Values are strings. Literals are emitted as written, except that
// non-ASCII characters become upper-case percent-encoded UTF-8. A value is
// cut to N characters for ":N" and percent-encoded (upper-case hex) except
// for unreserved characters, and reserved ones too for + and #; '%' is
// always encoded. Operators frame values as in RFC 6570: ? and & emit
// "name=value", ; emits "name=value" or a bare "name" for "". If any
// variable of the template has no value the whole expansion fails.
//
// # Matching
//
// Match parses a raw, still-encoded path. Several parses may exist; the
// result is the first complete parse in the depth-first order below, and
// only defined variables are returned.
//
// A literal must appear as it expands: %HH triplets exactly as written
// (case included), non-ASCII characters upper-case percent-encoded.
//
// A value is a possibly empty sequence of runs that alternate between runs
// of the operator's characters (unreserved, plus reserved for + and #) and
// runs of %HH triplets that must decode to valid UTF-8 (hex digits of
// either case; the value holds the decoded text). Non-empty values come
// before the empty one; each run is tried shortest first; a run that
// reaches its natural end first continues with a run of the other kind,
// and only then stops there.
//
// For the variables v1…vn of an expression with separator c, variable vi
// is first defined — after its value, first c and the variables from
// vi+1, then the end of the expression with the others undefined — and
// then undefined, continuing with vi+1 at the same position. So a trailing
// separator is accepted: "/{a}" matches "/x," with a=x. An operator with a
// prefix character (# . / ; ? &) first tries the prefix with at least one
// variable defined, then the whole expression absent: "/x{?a}" matches
// "/x" but not "/x?". For ? and & a variable is "name=" and a value; for ;
// it is the name, then "=value" or else the value "". An exploded variable
// never takes a value, except that ; still offers the bare-name form, as
// Burrito does. ":N" does not limit the matched length.
//
// A name that occurs more than once must be consistent: all occurrences
// undefined, or all defined with equal values, where an occurrence with
// ":N" only has to agree on the first N characters (and a later full value
// replaces it), as in Burrito.
//
// # Cost
//
// The depth-first search is exponential in the worst case (adjacent
// variables against a long input that does not match), and paths are
// chosen by clients. Matching first runs the plain search with a budget
// linear in the input length, which ordinary paths never exhaust. Past it,
// it computes a table, from the end of the input backwards, of which
// (template state, position) pairs can still complete, and reruns the
// search pruned by the table: every branch it then enters completes, so it
// finds the same first parse in time linear in the input length times the
// template size.
//
// The table cannot see the consistency of repeated names, so for templates
// that repeat a name the pruned search may still backtrack. It gets a
// budget of about a million steps; a match that needs more is reported as
// no match.
//
// The table has about seven rows per variable, and building it compares
// literals and keys at every position, so its cost is the input length
// times the template size. Both are bounded so that the product is too:
// Parse refuses templates longer than MaxLen or with more than MaxVars
// variables, and an input longer than MaxInput matches nothing, at no
// cost. The costliest template and input these allow (MaxVars adjacent
// variables against MaxInput bytes that do not match) take a few
// milliseconds; the bounds are far above real templates, which have a
// handful of variables, and real paths.
//
// # Query parameters
//
// A template whose query part is matched literally depends on parameter
// order. SplitQuery breaks such a template into its path and its query
// items so that a caller can match parameters in any order.
package uritemplate

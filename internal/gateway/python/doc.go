// Package python serves Python package indexes: the PEP 503 "simple"
// repository API, as HTML (PEP 503, with the PEP 629 version tag on
// request) or JSON (PEP 691), chosen from the Accept header.
//
// A domain's repository is built from two kinds of rules. python-v1 rules
// name one distribution file each, as in Scarf Gateway; their pages are
// rendered once, when the rules are compiled. A python-index-v1 rule names
// a project (or a glob of projects) and an upstream index: Portico reads
// the upstream project page through a shared cache, keeps each file's
// hashes, requires-python, yanked and core-metadata attributes, and links
// every file to itself. Downloads redirect to the upstream file, so the
// bytes never pass through the gateway, and each one is counted.
// Projects the domain does not know are redirected to the fallback index,
// so dependencies still resolve.
//
// Upstream pages are untrusted input: they are bounded in size
// (Options.MaxPage), HTML is read with the HTML5 tokenizer of
// golang.org/x/net/html, and every step from bytes to the rendered page
// (names, PEP 440 versions, sorting) takes time linear in the page, or
// n log n for the sort.
//
// Project names are normalized as PEP 503 requires, and requests for a
// name in another spelling are redirected to the normalized URL.
package python

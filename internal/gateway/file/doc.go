// Package file serves Scarf's file packages: file-v1 rules (RFC 6570
// templates), file-v2 rules (regular expressions) and catch-all-v1 rules.
//
// A file-v1 rule matches its incoming-path template against the raw
// request path, binds the template's variables and redirects to the
// outgoing-url template expanded with them, merging the request's query
// into the target the way Scarf Gateway does. Without an outgoing URL it
// answers 200 and only records the download. Up to ten JSON objects in the
// first 256 bytes of the request body become one event each, which lets
// installers report extra data with a plain request.
//
// One deliberate difference from Scarf: when the incoming template
// includes a query part, its parameters match in any order and extra
// parameters are allowed, as they are for templates without variables.
package file

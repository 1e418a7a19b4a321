// Package manifest reads Scarf Gateway manifests: a JSON object whose
// "rules" array lists the packages a gateway serves.
//
// Every Scarf rule type is accepted with its field names and meaning
// unchanged (docker-v1, docker-v2, file-v1, file-v2, python-v1,
// catch-all-v1, telemetry-v1), together with Portico's additions: the
// pixel-v1 and scarf-js-v1 rule types, backend URLs with a scheme where
// Scarf takes a bare host, and "x-" extension fields, which are kept and
// ignored. docs/manifest.md is the reference.
//
// Decoding is strict where Scarf is silent: an unknown field, a template
// or regular expression that does not parse, an outgoing URL that is not
// an absolute http(s) URL or that uses a variable the incoming path does
// not bind are all errors. Decode reports every problem at once, each as
// an *Error that names the file, the rule, its type, the field and, for
// templates, patterns and regular expressions, the column.
package manifest

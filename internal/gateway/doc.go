// Package gateway holds the contract between the router and the protocol
// handlers: the Request view that rules match against, the Rule interface,
// the Result a rule returns, and the responses shared by all protocols.
//
// The router (package route) finds the domain and the candidate rules,
// calls Rule.Serve on each in precedence order until one takes the
// request, and turns the Result into metrics and analytics events. Rules
// never build events or touch the pipeline themselves, so Do-Not-Track and
// Global Privacy Control are honoured in exactly one place.
//
// The Request model follows Scarf Gateway's (see docs/manifest.md): the
// raw path is matched exactly as received, without decoding percent-escapes
// or normalizing dot segments, and the decoded path segments and query
// items are computed only for rules that ask for them.
package gateway

// Package docker serves the OCI distribution API (docker pull and every
// other registry client) for docker-v1 and docker-v2 rules.
//
// A request under /v2/ names an image and an object (manifest, blob, tag
// list); the rule that serves the image either redirects the client to the
// backend registry, which keeps the bytes off the gateway, or proxies the
// request for clients that cannot follow a redirect with their
// credentials. The choice follows Scarf Gateway: always-proxy rules and
// requests with Basic credentials are proxied, known Docker clients are
// redirected, and every other client is proxied.
//
// Each request is recorded; a GET of a manifest is a pull, as Docker Hub
// counts them.
package docker

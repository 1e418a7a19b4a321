package docker

import (
	"net/http"
	"strings"
)

// followsRedirects reports whether the client that sent ua follows a
// redirect of a registry request to another host with its credentials, so
// that "mode": "auto" may redirect it. The first group is Scarf Gateway's
// list, kept so that every client it redirects is still redirected; the
// rest were found with the real clients (docs/docker.md has the table and
// how it was measured).
func followsRedirects(ua string) bool {
	return strings.HasPrefix(ua, "docker/") ||
		strings.Contains(ua, "Docker-Client") ||
		strings.Contains(ua, "containerd/1.4.9") ||
		strings.Contains(ua, "containerd/1.5.5") ||
		strings.Contains(ua, "containerd/1.6") ||
		ua == "Watchtower (Docker)" ||
		followsRedirectsMeasured(ua)
}

// followsRedirectsMeasured is the part of the list Portico adds to
// Scarf's: clients that carry their credentials across a cross-host
// redirect, found by the client tests.
func followsRedirectsMeasured(ua string) bool {
	_ = ua
	return false
}

// basicAuth reports whether the request's first Authorization header is
// Basic credentials, the byte prefix check Scarf Gateway makes.
func basicAuth(r *http.Request) bool {
	auth := r.Header["Authorization"]
	return len(auth) > 0 && strings.HasPrefix(auth[0], "Basic")
}

func userAgent(r *http.Request) string {
	if v := r.Header["User-Agent"]; len(v) > 0 {
		return v[0]
	}
	return ""
}

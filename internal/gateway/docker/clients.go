package docker

import (
	"net/http"
	"strings"
)

// followsRedirects reports whether the client that sent ua follows a
// redirect of a registry request to another host with its credentials, so
// that "mode": "auto" may redirect it. This is Scarf Gateway's list. The
// client tests check it against the real clients (docs/docker.md has the
// table): docker and containerd 1.6 keep their token across the redirect;
// podman, skopeo (containers/image) and crane (go-containerregistry) drop
// it and must be proxied, so nothing is added.
func followsRedirects(ua string) bool {
	return strings.HasPrefix(ua, "docker/") ||
		strings.Contains(ua, "Docker-Client") ||
		strings.Contains(ua, "containerd/1.4.9") ||
		strings.Contains(ua, "containerd/1.5.5") ||
		strings.Contains(ua, "containerd/1.6") ||
		ua == "Watchtower (Docker)"
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

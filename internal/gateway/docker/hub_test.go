package docker

import "testing"

func TestIsDockerHub(t *testing.T) {
	for host, want := range map[string]bool{
		"registry-1.docker.io": true, "registry-1.docker.io:443": true, "Docker.IO": true, "index.docker.io:5000": true,
		"ghcr.io": false, "127.0.0.1:5000": false, "docker.io.example:443": false,
	} {
		if got := isDockerHub(host); got != want {
			t.Errorf("isDockerHub(%q) = %v, want %v", host, got, want)
		}
	}
}

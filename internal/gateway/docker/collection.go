package docker

import (
	"fmt"
	"strings"

	"portico/internal/manifest"
)

// CollectionPackage returns the docker-v1 rule of the package that the
// collection whose rule is c creates for image, the image's name as
// events record it (with library/ for a single name on Docker Hub). The
// package serves image as the collection served it: from the same
// registry, under the same name there, with the same options. It fails
// when c does not serve image.
func CollectionPackage(c *manifest.DockerV2, image string) (*manifest.DockerV1, error) {
	segs := strings.Split(image, "/")
	hub := isDockerHub(c.Registry.Host)
	if !c.Pattern.Match(segs) && !(hub && len(segs) == 2 && segs[0] == "library" && c.Pattern.Match(segs[1:])) {
		return nil, fmt.Errorf("image %q does not match the collection's pattern %q", image, c.PatternText)
	}
	r := &rule{upstreamPrefix: c.UpstreamPrefix, fixed: c.Pattern.FixedPrefix(), hub: hub}
	m := r.matched(image)
	p := &manifest.DockerV1{
		Base:           manifest.Base{Domain: c.Domain, Host: c.Host, Extensions: c.Extensions},
		RepositoryName: m.public,
		Registry:       c.Registry,
		AlwaysProxy:    c.AlwaysProxy,
		Owner:          c.Owner,
		DockerOptions:  c.DockerOptions,
	}
	if m.upstream != m.public {
		p.UpstreamRepository = m.upstream
	}
	return p, nil
}

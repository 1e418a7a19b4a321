package store

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Docker clients resolve a tag to a digest (a HEAD or GET of the manifest
// by tag) and then GET the manifest by digest: the pull that counts names
// a digest, not the version. When an event by tag carries the digest it
// resolved to (the gateway knows it when it proxies), the store remembers
// the pair, and counts later pulls of that digest under the tag. Raw
// events keep the reference as requested.

// An ImageDigest names a manifest of an image.
type ImageDigest struct {
	Image  string
	Digest string
}

// A TagDigest says that a tag of an image resolved to a digest.
type TagDigest struct {
	ImageDigest
	Tag string
	At  int64 // Unix milliseconds of the event that said so
}

func isDigest(ref string) bool { return strings.Contains(ref, ":") }

// TagDigests returns what the records say about tags and digests: docker
// events by tag that carry the digest they resolved to. When a batch says
// two things about one digest, the latest wins.
func TagDigests(recs []Record) []TagDigest {
	latest := map[ImageDigest]TagDigest{}
	for i := range recs {
		r := &recs[i]
		if r.Kind != "docker" || r.Digest == "" || r.Version == "" || isDigest(r.Version) {
			continue
		}
		k := ImageDigest{r.Artifact, r.Digest}
		if t, ok := latest[k]; !ok || r.Time.UnixMilli() >= t.At {
			latest[k] = TagDigest{ImageDigest: k, Tag: r.Version, At: r.Time.UnixMilli()}
		}
	}
	out := make([]TagDigest, 0, len(latest))
	for _, t := range latest {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b TagDigest) int {
		return cmp.Or(cmp.Compare(a.Image, b.Image), cmp.Compare(a.Digest, b.Digest))
	})
	return out
}

// DigestRefs returns the manifests that records name by digest, whose tag
// a store should look up.
func DigestRefs(recs []Record) []ImageDigest {
	seen := map[ImageDigest]bool{}
	var out []ImageDigest
	for i := range recs {
		r := &recs[i]
		if r.Kind == "docker" && isDigest(r.Version) {
			k := ImageDigest{r.Artifact, r.Version}
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	return out
}

// ApplyTags gives records by digest the version of the tag that digest
// was resolved from, taken from learned (this batch) or else stored.
func ApplyTags(recs []Record, learned []TagDigest, stored map[ImageDigest]string) {
	tags := make(map[ImageDigest]string, len(learned)+len(stored))
	for k, v := range stored {
		tags[k] = v
	}
	for _, t := range learned {
		tags[t.ImageDigest] = t.Tag
	}
	for i := range recs {
		r := &recs[i]
		if r.Kind == "docker" && isDigest(r.Version) {
			if tag, ok := tags[ImageDigest{r.Artifact, r.Version}]; ok {
				r.Version = tag
			}
		}
	}
}

// TagRetention is how long a digest is remembered after it was last seen
// resolved from a tag.
const TagRetention = 90 * 24 * time.Hour

package docker

import (
	"strings"
)

// Object kinds, as recorded in events.
const (
	objManifest  = "manifest"
	objBlob      = "blob"
	objTags      = "tags"
	objReferrers = "referrers"
	objCatalog   = "catalog"
	objPing      = "ping"
	objToken     = "token"
)

// apiPath is a parsed registry API path.
type apiPath struct {
	object    string
	image     []string // decoded segments between v2 and the keyword
	reference string
	// rest is the raw path from the '/' before the keyword on
	// ("/manifests/1.0"), used to address the same object under
	// another repository name.
	rest string
}

// parsePath reads a registry request the way Scarf Gateway does: /v2/ and
// /v2/_catalog exactly, or /v2/<image>/<keyword>/<ref>, split at the first
// keyword segment (manifests, blobs, tags and, beyond Scarf, the OCI 1.1
// referrers). ok is false for anything else.
func parsePath(rawPath string, segs []string) (apiPath, bool) {
	switch rawPath {
	case "/v2/_catalog":
		return apiPath{object: objCatalog}, true
	case "/v2/":
		return apiPath{object: objPing}, true
	}
	if len(segs) == 0 || segs[0] != "v2" {
		return apiPath{}, false
	}
	for i := 1; i < len(segs); i++ {
		obj := keywordObject(segs[i])
		if obj == "" {
			continue
		}
		if i+1 >= len(segs) {
			return apiPath{}, false
		}
		return apiPath{object: obj, image: segs[1:i], reference: segs[i+1], rest: rawFrom(rawPath, i)}, true
	}
	return apiPath{}, false
}

func keywordObject(seg string) string {
	switch seg {
	case "manifests":
		return objManifest
	case "blobs":
		return objBlob
	case "tags":
		return objTags
	case "referrers":
		return objReferrers
	}
	return ""
}

// rawFrom returns rawPath from the '/' that starts segment k (segment 0
// follows the leading '/').
func rawFrom(rawPath string, k int) string {
	p := strings.TrimPrefix(rawPath, "/")
	off := len(rawPath) - len(p)
	for ; k > 0; k-- {
		i := strings.IndexByte(p, '/')
		if i < 0 {
			return ""
		}
		p = p[i+1:]
		off += i + 1
	}
	return rawPath[off-1:]
}

// imageName joins image segments as they are recorded: "library/nginx".
func imageName(image []string) string { return strings.Join(image, "/") }

// escapeRepository writes a repository name as a raw path: each segment
// path-escaped, joined with '/'.
func escapeRepository(name string) string {
	var b strings.Builder
	for i, seg := range strings.Split(name, "/") {
		if i > 0 {
			b.WriteByte('/')
		}
		for j := 0; j < len(seg); j++ {
			c := seg[j]
			if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
				b.WriteByte(c)
				continue
			}
			const hex = "0123456789ABCDEF"
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// isDigest reports whether ref looks like a content digest
// ("sha256:…"), as opposed to a tag.
func isDigest(ref string) bool {
	alg, hex, ok := strings.Cut(ref, ":")
	return ok && alg != "" && len(hex) >= 32
}

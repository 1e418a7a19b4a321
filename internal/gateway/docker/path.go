package docker

import (
	"regexp"
	"strings"

	"github.com/distribution/reference"
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

// codeNameInvalid is the registry API's error for a malformed repository
// name.
const codeNameInvalid = "NAME_INVALID"

// checkPath validates a registry request before any rule sees it: the
// repository name must be a name of the distribution reference grammar
// written plainly (no percent-escapes, so "%2F" cannot hide a segment,
// and what is matched is what goes upstream), and the segments from the
// keyword on, which are forwarded as written, must be free of dot
// segments, encoded slashes and backslashes (which some servers take for
// slashes). It returns the registry error code and
// message for a request that fails.
func checkPath(rawPath string, p apiPath) (code, msg string, ok bool) {
	fromName := rawFrom(rawPath, 1)
	// An empty name ("/v2/manifests/x") is no name at all: no rule
	// takes it, and it gets the registry's NAME_UNKNOWN as in Scarf.
	if name := fromName[:len(fromName)-len(p.rest)]; name != "" && !validName(name[1:]) {
		return codeNameInvalid, "invalid repository name: lower-case path components of letters and digits separated by '.', '_', '__' or '-', at most 255 characters, written without percent-escapes", false
	}
	// The keyword, the reference and anything after them.
	for seg := range strings.SplitSeq(p.rest[1:], "/") {
		if isDotSegment(seg) || hasEncodedSlash(seg) || strings.IndexByte(seg, '\\') >= 0 {
			return codeNameInvalid, "invalid path: dot segment, backslash or encoded slash", false
		}
	}
	return "", "", true
}

// anchoredName is the reference grammar's name, an optional domain and a
// path, matched whole.
var anchoredName = regexp.MustCompile(`^(?:` + reference.NameRegexp.String() + `)$`)

// validName reports whether raw, the repository name as written in the
// request path, is a path of the distribution reference grammar.
func validName(raw string) bool {
	if raw == "" || len(raw) > reference.RepositoryNameTotalLengthMax || strings.IndexByte(raw, '%') >= 0 {
		return false
	}
	// Repository names in the registry API are the grammar's path,
	// without a domain. With "localhost/" in front, the domain can only
	// be "localhost" or absent, and either way raw must be a path.
	return anchoredName.MatchString("localhost/" + raw)
}

// isDotSegment reports whether a raw segment is "." or "..", each dot
// written plainly or percent-encoded in either case.
func isDotSegment(seg string) bool {
	dots := 0
	for i := 0; i < len(seg); {
		switch {
		case seg[i] == '.':
			i++
		case seg[i] == '%' && i+2 < len(seg) && seg[i+1] == '2' && seg[i+2]|0x20 == 'e':
			i += 3
		default:
			return false
		}
		if dots++; dots > 2 {
			return false
		}
	}
	return dots > 0
}

// hasEncodedSlash reports whether seg holds %2F or %5C in either case.
func hasEncodedSlash(seg string) bool {
	for i := 0; i+2 < len(seg); i++ {
		if seg[i] == '%' && (seg[i+1] == '2' && seg[i+2]|0x20 == 'f' || seg[i+1] == '5' && seg[i+2]|0x20 == 'c') {
			return true
		}
	}
	return false
}

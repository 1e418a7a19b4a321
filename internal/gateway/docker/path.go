package docker

import "strings"

// Object kinds, as recorded in events.
const (
	objManifest = "manifest"
	objBlob     = "blob"
	objTags     = "tags"
	objCatalog  = "catalog"
	objPing     = "ping"
)

// apiPath is a parsed registry API path.
type apiPath struct {
	object    string
	image     []string // decoded segments between v2 and the keyword
	reference string
}

// parsePath reads a registry request the way Scarf Gateway does: /v2/ and
// /v2/_catalog exactly, or /v2/<image>/{manifests,blobs,tags}/<ref>, split
// at the first keyword segment. ok is false for anything else.
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
		var obj string
		switch segs[i] {
		case "manifests":
			obj = objManifest
		case "blobs":
			obj = objBlob
		case "tags":
			obj = objTags
		default:
			continue
		}
		if i+1 >= len(segs) {
			return apiPath{}, false
		}
		return apiPath{object: obj, image: segs[1:i], reference: segs[i+1]}, true
	}
	return apiPath{}, false
}

// imageName joins image segments as they are recorded: "library/nginx".
func imageName(image []string) string { return strings.Join(image, "/") }

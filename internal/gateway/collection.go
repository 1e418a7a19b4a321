package gateway

import (
	"crypto/sha256"
	"encoding/hex"
)

// Collected is a download that a rule compiled from a collection served:
// the collection creates a package for the artifact, unless one exists.
// The router hands it to its Collector once the download is answered.
type Collected struct {
	// Collection is the collection's id.
	Collection string
	// Artifact names what was downloaded: the docker image as events
	// record it, or the value of a file template's {package}.
	Artifact string
}

// collectionIDPrefix keeps these ids apart from any other SHA-256 use.
const collectionIDPrefix = "portico collection package\x00"

// CollectionPackageID returns the id of the package a collection creates
// for an artifact. It is derived, not random, so that a rule can count the
// first download under the package's id before the package is stored,
// and so that every replica derives the same one: replicas racing on the
// same first download create one package. The form is a version 8 UUID
// (RFC 9562) over a SHA-256 of both names.
//
// It allocates only the returned string for names of ordinary length.
func CollectionPackageID(collection, artifact string) string {
	var buf [256]byte
	b := append(buf[:0], collectionIDPrefix...)
	b = append(b, collection...)
	b = append(b, 0)
	b = append(b, artifact...)
	sum := sha256.Sum256(b)
	sum[6] = sum[6]&0x0f | 0x80
	sum[8] = sum[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], sum[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], sum[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], sum[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], sum[8:10])
	s[23] = '-'
	hex.Encode(s[24:], sum[10:16])
	return string(s[:])
}

package blobcache

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// A Digest names an object by the hash of its bytes. Its zero value
// names nothing.
type Digest struct {
	algo string // "sha256", "sha512" or "sha1"
	sum  string // lower-case hex
}

// sizes are the hex lengths of the sums of the known algorithms.
var sizes = map[string]int{"sha256": 64, "sha512": 128, "sha1": 40}

// ParseHex returns the digest of algorithm algo ("sha256", "sha512",
// "sha1", any case) whose sum is the hex text sum.
func ParseHex(algo, sum string) (Digest, error) {
	algo = strings.ToLower(algo)
	n, ok := sizes[algo]
	if !ok {
		return Digest{}, fmt.Errorf("digest: unsupported algorithm %q", algo)
	}
	if len(sum) != n {
		return Digest{}, fmt.Errorf("digest: %s sum of %d hex digits, want %d", algo, len(sum), n)
	}
	for i := 0; i < len(sum); i++ {
		c := sum[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return Digest{}, fmt.Errorf("digest: %s sum is not hex", algo)
		}
	}
	return Digest{algo: algo, sum: strings.ToLower(sum)}, nil
}

// ParseOCI reads a registry digest, "sha256:<hex>" (or sha512).
func ParseOCI(s string) (Digest, error) {
	algo, sum, ok := strings.Cut(s, ":")
	if !ok || algo == "sha1" {
		return Digest{}, fmt.Errorf("digest: %q is not algorithm:hex", s)
	}
	return ParseHex(algo, sum)
}

// ParseSRI reads a Subresource Integrity value, as npm's dist.integrity
// holds ("sha512-<base64>", possibly several separated by spaces), and
// returns its strongest known hash.
func ParseSRI(s string) (Digest, error) {
	var best Digest
	var errs []error
	for f := range strings.FieldsSeq(s) {
		f, _, _ = strings.Cut(f, "?") // options are reserved by the specification
		algo, b64, ok := strings.Cut(f, "-")
		if !ok {
			errs = append(errs, fmt.Errorf("integrity %q: not algorithm-base64", f))
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			errs = append(errs, fmt.Errorf("integrity %q: %w", f, err))
			continue
		}
		d, err := ParseHex(algo, hex.EncodeToString(raw))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if sizes[d.algo] > sizes[best.algo] {
			best = d
		}
	}
	if best.algo == "" {
		if len(errs) == 0 {
			errs = append(errs, errors.New("integrity: empty"))
		}
		return Digest{}, errors.Join(errs...)
	}
	return best, nil
}

// IsZero reports whether d names nothing.
func (d Digest) IsZero() bool { return d.algo == "" }

// Algorithm returns "sha256", "sha512" or "sha1".
func (d Digest) Algorithm() string { return d.algo }

// Hex returns the sum in lower-case hex.
func (d Digest) Hex() string { return d.sum }

// String returns "algorithm:hex", as registries write digests.
func (d Digest) String() string { return d.algo + ":" + d.sum }

// name is the object's file name in the cache.
func (d Digest) name() string { return d.algo + "-" + d.sum }

func (d Digest) newHash() hash.Hash {
	switch d.algo {
	case "sha512":
		return sha512.New()
	case "sha1":
		return sha1.New()
	}
	return sha256.New()
}

// parseName reads a file name of the cache back into a digest.
func parseName(name string) (Digest, bool) {
	algo, sum, ok := strings.Cut(name, "-")
	if !ok {
		return Digest{}, false
	}
	d, err := ParseHex(algo, sum)
	return d, err == nil && d.sum == sum
}

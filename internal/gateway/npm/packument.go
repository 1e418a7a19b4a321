package npm

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync/atomic"

	"portico/internal/blobcache"
)

// Media types of packuments.
const (
	ctypeJSON   = "application/json"
	ctypeAbbrev = "application/vnd.npm.install-v1+json"
)

// marker stands for the client-visible base URL (scheme and host) inside
// a rendered packument. It cannot occur in a real document: packuments
// are refused when they contain it.
const marker = "\x00portico-base\x00"

// markerJSON is marker as it appears inside an encoded JSON string.
var markerJSON = []byte(`\u0000portico-base\u0000`)

// tarball is one version's tarball on the upstream.
type tarball struct {
	location []string // the upstream URL, as a Location header value
	version  string
	// digest is what the document says the tarball hashes to: its
	// integrity, else its shasum; zero when it says neither.
	digest blobcache.Digest
}

// packument is a package document as Portico serves it: the upstream
// document with every dist.tarball pointing to Portico. The document is
// kept in pieces between which the base URL of the request is written,
// so one copy serves every host name the registry is reached by.
type packument struct {
	name     string
	pieces   [][]byte
	size     int // bytes of the pieces
	digest   string
	tarballs map[string]tarball // by file name
	// raw keeps, for full documents, what version documents are cut
	// from.
	versions map[string]json.RawMessage
	distTags map[string]string
	// last remembers the validators of the last base URL served, which
	// is almost always the only one.
	last [2]atomic.Pointer[rendered]
}

// rendered holds the header values of a document for one base URL.
type rendered struct {
	base   []byte
	etag   []string
	length []string
}

// forBase returns the header values for base (which the caller may
// reuse afterwards).
func (p *packument) forBase(base []byte, abbreviated bool) *rendered {
	i := 0
	if abbreviated {
		i = 1
	}
	if r := p.last[i].Load(); r != nil && string(r.base) == string(base) {
		return r
	}
	b := bytes.Clone(base)
	r := &rendered{base: b, etag: []string{p.etag(b, abbreviated)}, length: []string{strconv.Itoa(p.length(b))}}
	p.last[i].Store(r)
	return r
}

// abbreviatedKeys are the fields of a version kept in an abbreviated
// packument (application/vnd.npm.install-v1+json).
var abbreviatedKeys = map[string]bool{
	"name": true, "version": true, "deprecated": true, "dependencies": true,
	"optionalDependencies": true, "devDependencies": true, "bundleDependencies": true,
	"bundledDependencies": true, "peerDependencies": true, "peerDependenciesMeta": true,
	"acceptDependencies": true, "bin": true, "directories": true, "dist": true, "engines": true,
	"_hasShrinkwrap": true, "hasInstallScript": true, "cpu": true, "os": true, "libc": true,
	"funding": true, "license": true,
}

// parsePackument rewrites an upstream packument for Portico. name is the
// package; abbreviated says which document was asked for. An upstream
// that ignores the abbreviated media type is answered with the full
// document, which is then abbreviated here.
func parsePackument(name string, abbreviated bool, header http.Header, body []byte) (*packument, error) {
	if bytes.Contains(body, markerJSON) {
		return nil, errors.New("the document contains a reserved sequence")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, fmt.Errorf("packument: %w", err)
	}
	if top == nil {
		return nil, errors.New("packument: not an object")
	}
	var versions map[string]map[string]json.RawMessage
	if raw, ok := top["versions"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &versions); err != nil {
			return nil, fmt.Errorf("packument: versions: %w", err)
		}
	}
	p := &packument{name: name, tarballs: make(map[string]tarball, len(versions))}
	if raw, ok := top["dist-tags"]; ok {
		_ = json.Unmarshal(raw, &p.distTags) // informational; a bad value leaves none
	}
	ct, _, _ := mime.ParseMediaType(header.Get("Content-Type"))
	trim := abbreviated && ct != ctypeAbbrev
	if trim {
		for k := range top {
			switch k {
			case "name", "modified", "dist-tags", "versions":
			default:
				delete(top, k)
			}
		}
	}
	if !abbreviated {
		p.versions = make(map[string]json.RawMessage, len(versions))
	}
	for v, doc := range versions {
		if doc == nil {
			continue
		}
		if trim {
			for k := range doc {
				if !abbreviatedKeys[k] {
					delete(doc, k)
				}
			}
		}
		if raw, ok := doc["dist"]; ok {
			var dist map[string]json.RawMessage
			if err := json.Unmarshal(raw, &dist); err != nil {
				return nil, fmt.Errorf("packument: versions[%q].dist: %w", v, err)
			}
			var tu string
			if err := json.Unmarshal(dist["tarball"], &tu); err == nil && tu != "" {
				file, err := tarballFile(tu)
				if err != nil {
					return nil, fmt.Errorf("packument: versions[%q].dist.tarball: %w", v, err)
				}
				if _, dup := p.tarballs[file]; !dup {
					p.tarballs[file] = tarball{location: []string{tu}, version: v, digest: distDigest(dist)}
				}
				dist["tarball"] = mustMarshal(marker + "/" + packagePath(name) + "/-/" + url.PathEscape(file))
				doc["dist"] = mustMarshal(dist)
			}
		}
		if p.versions != nil {
			p.versions[v] = mustMarshal(doc)
		}
	}
	if versions != nil {
		top["versions"] = mustMarshal(versions)
	}
	out := mustMarshal(top)
	p.pieces = bytes.Split(out, markerJSON)
	for _, pc := range p.pieces {
		p.size += len(pc)
	}
	sum := sha256.Sum256(out)
	p.digest = base64.RawURLEncoding.EncodeToString(sum[:18])
	return p, nil
}

// distDigest returns the hash a version's dist object gives its
// tarball: the strongest of its integrity, else its sha1 shasum.
func distDigest(dist map[string]json.RawMessage) blobcache.Digest {
	var integrity, shasum string
	if json.Unmarshal(dist["integrity"], &integrity) == nil && integrity != "" {
		if d, err := blobcache.ParseSRI(integrity); err == nil {
			return d
		}
	}
	if json.Unmarshal(dist["shasum"], &shasum) == nil && shasum != "" {
		if d, err := blobcache.ParseHex("sha1", shasum); err == nil {
			return d
		}
	}
	return blobcache.Digest{}
}

// tarballFile returns the file name at the end of a tarball URL.
func tarballFile(u string) (string, error) {
	pu, err := url.Parse(u)
	if err != nil || pu.Scheme != "http" && pu.Scheme != "https" || pu.Host == "" {
		return "", fmt.Errorf("not an absolute http(s) URL: %q", u)
	}
	file := path.Base(pu.Path)
	if file == "" || file == "/" || file == "." {
		return "", fmt.Errorf("no file name in %q", u)
	}
	return file, nil
}

// packagePath is the URL path of a package on Portico: "name" or
// "@scope/name".
func packagePath(name string) string {
	if scope, rest, ok := strings.Cut(name, "/"); ok {
		return url.PathEscape(scope) + "/" + url.PathEscape(rest)
	}
	return url.PathEscape(name)
}

// upstreamPath is the path of a package's document on a registry: scoped
// names keep the '/' escaped, as registries expect.
func upstreamPath(name string) string {
	if scope, rest, ok := strings.Cut(name, "/"); ok {
		return url.PathEscape(scope) + "%2f" + url.PathEscape(rest)
	}
	return url.PathEscape(name)
}

func mustMarshal(v any) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Values here were decoded from JSON a moment ago.
		panic(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'})
}

// jsonBase is the base URL as it must appear inside a JSON string.
func jsonBase(base string) []byte {
	b := mustMarshal(base)
	return b[1 : len(b)-1]
}

// length is the size of the document rendered with base.
func (p *packument) length(base []byte) int {
	return p.size + (len(p.pieces)-1)*len(base)
}

// etag is the document's validator for base.
func (p *packument) etag(base []byte, abbreviated bool) string {
	h := sha256.New()
	h.Write([]byte(p.digest))
	h.Write(base)
	if abbreviated {
		h.Write([]byte{1})
	}
	var sum [32]byte
	return `"` + base64.RawURLEncoding.EncodeToString(h.Sum(sum[:0])[:18]) + `"`
}

// writeTo writes the document rendered with base.
func (p *packument) writeTo(w interface{ Write([]byte) (int, error) }, base []byte) error {
	for i, pc := range p.pieces {
		if i > 0 {
			if _, err := w.Write(base); err != nil {
				return err
			}
		}
		if _, err := w.Write(pc); err != nil {
			return err
		}
	}
	return nil
}

// version returns a version document rendered with base: the version
// named, or the one a dist-tag points to.
func (p *packument) version(spec string, base []byte) ([]byte, string, bool) {
	raw, ok := p.versions[spec]
	if !ok {
		if v, tagged := p.distTags[spec]; tagged {
			raw, ok = p.versions[v]
			spec = v
		}
	}
	if !ok {
		return nil, "", false
	}
	return bytes.ReplaceAll(raw, markerJSON, base), spec, true
}

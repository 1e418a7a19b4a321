package python

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/net/html"
)

// upstreamAccept asks an index for PEP 691 JSON, falling back to HTML.
const upstreamAccept = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"

// A link is one file as an upstream project page lists it.
type link struct {
	name           string
	url            string // absolute, without fragment
	hashes         []hashPair
	requiresPython *string
	gpgSig         *bool
	yanked         bool
	yankedReason   string
	coreMetadata   bool
	metadataHashes []hashPair
	size           int64
	uploadTime     string
}

// parsedPage is an upstream project page.
type parsedPage struct {
	name     string
	links    []link
	versions []string // nil unless the page gave them
}

// parseProjectPage reads an upstream project page in the format its
// Content-Type names: PEP 691 JSON or PEP 503 HTML. Relative URLs are
// resolved against base.
func parseProjectPage(ctx context.Context, base *url.URL, header http.Header, body []byte) (*parsedPage, error) {
	ct, _, _ := mime.ParseMediaType(header.Get("Content-Type"))
	switch {
	case strings.HasSuffix(ct, "+json") || ct == "application/json":
		return parseJSONPage(base, body)
	default:
		return parseHTMLPage(ctx, base, body)
	}
}

// parseJSONPage reads a PEP 691 project page.
func parseJSONPage(base *url.URL, body []byte) (*parsedPage, error) {
	var doc struct {
		Meta struct {
			APIVersion string `json:"api-version"`
		} `json:"meta"`
		Name     string   `json:"name"`
		Versions []string `json:"versions"`
		Files    []struct {
			Filename       string            `json:"filename"`
			URL            string            `json:"url"`
			Hashes         map[string]string `json:"hashes"`
			RequiresPython *string           `json:"requires-python"`
			CoreMetadata   json.RawMessage   `json:"core-metadata"`
			DistInfoMeta   json.RawMessage   `json:"dist-info-metadata"`
			GPGSig         *bool             `json:"gpg-sig"`
			Yanked         json.RawMessage   `json:"yanked"`
			Size           *int64            `json:"size"`
			UploadTime     string            `json:"upload-time"`
		} `json:"files"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("PEP 691 page: %w", err)
	}
	if err := checkAPIVersion(doc.Meta.APIVersion); err != nil {
		return nil, err
	}
	p := &parsedPage{name: doc.Name, versions: doc.Versions}
	for i, f := range doc.Files {
		if f.Filename == "" || strings.ContainsAny(f.Filename, "/\\") {
			return nil, fmt.Errorf("PEP 691 page: files[%d]: invalid filename %q", i, f.Filename)
		}
		u, err := resolve(base, f.URL)
		if err != nil {
			return nil, fmt.Errorf("PEP 691 page: files[%d]: %w", i, err)
		}
		l := link{name: f.Filename, url: u, requiresPython: f.RequiresPython, gpgSig: f.GPGSig, size: -1, uploadTime: f.UploadTime}
		if f.Size != nil && *f.Size >= 0 {
			l.size = *f.Size
		}
		l.hashes = sortedHashes(f.Hashes)
		meta := f.CoreMetadata
		if len(meta) == 0 || string(meta) == "null" {
			meta = f.DistInfoMeta
		}
		l.coreMetadata, l.metadataHashes, err = readMetadataField(meta)
		if err != nil {
			return nil, fmt.Errorf("PEP 691 page: files[%d]: core-metadata: %w", i, err)
		}
		l.yanked, l.yankedReason, err = readYanked(f.Yanked)
		if err != nil {
			return nil, fmt.Errorf("PEP 691 page: files[%d]: yanked: %w", i, err)
		}
		p.links = append(p.links, l)
	}
	return p, nil
}

// checkAPIVersion refuses a major version this code does not know, as
// PEP 629 requires.
func checkAPIVersion(v string) error {
	if v == "" {
		return nil
	}
	major, _, _ := strings.Cut(v, ".")
	if major != "1" {
		return fmt.Errorf("unsupported repository version %q", v)
	}
	return nil
}

// sortedHashes puts sha256 first (the hash installers check), then the
// others by name.
func sortedHashes(m map[string]string) []hashPair {
	out := make([]hashPair, 0, len(m))
	for k, v := range m {
		out = append(out, hashPair{k, v})
	}
	slices.SortFunc(out, func(a, b hashPair) int {
		if (a.name == "sha256") != (b.name == "sha256") {
			if a.name == "sha256" {
				return -1
			}
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	return out
}

func readMetadataField(raw json.RawMessage) (bool, []hashPair, error) {
	if len(raw) == 0 || string(raw) == "null" || string(raw) == "false" {
		return false, nil, nil
	}
	if string(raw) == "true" {
		return true, nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal(raw, &m); err != nil {
		return false, nil, errors.New("must be a boolean or an object of hashes")
	}
	return true, sortedHashes(m), nil
}

func readYanked(raw json.RawMessage) (bool, string, error) {
	if len(raw) == 0 || string(raw) == "null" || string(raw) == "false" {
		return false, "", nil
	}
	if string(raw) == "true" {
		return true, "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return false, "", errors.New("must be a boolean or a string")
	}
	return true, s, nil
}

// resolve makes a link absolute and drops its fragment. Only http and
// https URLs are accepted.
func resolve(base *url.URL, ref string) (string, error) {
	u, err := base.Parse(strings.TrimSpace(ref))
	if err != nil {
		return "", fmt.Errorf("invalid URL %q", ref)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("URL %q is not an absolute http(s) URL", ref)
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String(), nil
}

// parseHTMLPage reads the anchors of a PEP 503 project page. It tokenizes
// the page as HTML5 does (x/net/html), which takes time linear in the
// page's length whatever it holds; ctx is looked at every few hundred
// tokens so that a parse past the fetch deadline stops.
func parseHTMLPage(ctx context.Context, base *url.URL, body []byte) (*parsedPage, error) {
	p := &parsedPage{}
	z := html.NewTokenizer(bytes.NewReader(body))
	var (
		a        anchor // the open <a>, while open is set
		open     bool
		text     strings.Builder
		firstErr error
	)
	// closeAnchor ends the open anchor: at </a>, at the next <a> (which
	// closes it in HTML), or at the end of the page.
	closeAnchor := func() {
		if !open {
			return
		}
		open = false
		l, err := a.link(base, text.String())
		text.Reset()
		switch {
		case err != nil && firstErr == nil:
			firstErr = err
		case err == nil && l != nil:
			p.links = append(p.links, *l)
		}
	}
	for n := 0; ; n++ {
		if n%256 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		switch z.Next() {
		case html.ErrorToken:
			if err := z.Err(); err != io.EOF {
				return nil, fmt.Errorf("HTML page: %w", err)
			}
			closeAnchor()
			if firstErr != nil {
				return nil, fmt.Errorf("HTML page: %w", firstErr)
			}
			return p, nil
		case html.StartTagToken, html.SelfClosingTagToken:
			// A self-closing <a/> is a start tag in HTML: its text
			// follows.
			name, hasAttr := z.TagName()
			switch string(name) {
			case "a":
				closeAnchor()
				a.read(z, hasAttr)
				open = true
			case "meta":
				if err := checkMeta(z, hasAttr); err != nil && firstErr == nil {
					firstErr = err
				}
			}
		case html.EndTagToken:
			if name, _ := z.TagName(); string(name) == "a" {
				closeAnchor()
			}
		case html.TextToken:
			if open {
				text.Write(z.Text())
			}
		}
	}
}

// The attributes of an anchor that PEP 503, 592, 658 and 714 give
// meaning to, as indexes into anchor.
const (
	attrHref = iota
	attrRequiresPython
	attrGPGSig
	attrYanked
	attrCoreMetadata
	attrDistInfoMetadata
	numAttrs
)

var anchorAttrs = [numAttrs]string{"href", "data-requires-python", "data-gpg-sig", "data-yanked", "data-core-metadata", "data-dist-info-metadata"}

// anchor holds the attributes of one <a> start tag, each the first of
// its name, as HTML keeps them.
type anchor struct {
	val [numAttrs]string
	has [numAttrs]bool
}

func (a *anchor) read(z *html.Tokenizer, more bool) {
	*a = anchor{}
	for more {
		var k, v []byte
		k, v, more = z.TagAttr()
		for i, name := range anchorAttrs {
			if !a.has[i] && string(k) == name {
				a.val[i], a.has[i] = string(v), true
				break
			}
		}
	}
}

func (a *anchor) get(i int) (string, bool) { return a.val[i], a.has[i] }

// link is the file an anchor with text text lists, nil for an anchor
// without href or without a usable file name.
func (a *anchor) link(base *url.URL, text string) (*link, error) {
	href, ok := a.get(attrHref)
	if !ok {
		return nil, nil
	}
	name := strings.TrimSpace(text)
	ref, frag, _ := strings.Cut(href, "#")
	u, err := resolve(base, ref)
	if err != nil {
		return nil, err
	}
	if name == "" || strings.ContainsAny(name, "/\\") {
		// The file name is the link text; fall back to the URL's last
		// segment.
		pu, _ := url.Parse(u)
		name = pu.Path[strings.LastIndexByte(pu.Path, '/')+1:]
		if name, err = url.PathUnescape(name); err != nil || name == "" || strings.ContainsAny(name, "/\\") {
			return nil, nil
		}
	}
	l := &link{name: name, url: u, size: -1}
	if k, v, ok := strings.Cut(frag, "="); ok && k != "" && v != "" {
		l.hashes = []hashPair{{k, v}}
	}
	if v, ok := a.get(attrRequiresPython); ok {
		l.requiresPython = &v
	}
	if v, ok := a.get(attrGPGSig); ok {
		b := v == "true"
		l.gpgSig = &b
	}
	if v, ok := a.get(attrYanked); ok {
		l.yanked, l.yankedReason = true, v
	}
	v, ok := a.get(attrCoreMetadata)
	if !ok {
		v, ok = a.get(attrDistInfoMetadata)
	}
	if ok && v != "false" {
		l.coreMetadata = true
		if k, h, found := strings.Cut(v, "="); found && k != "" && h != "" {
			l.metadataHashes = []hashPair{{k, h}}
		}
	}
	return l, nil
}

// checkMeta refuses a page whose repository version (PEP 629) is of a
// major version this code does not know.
func checkMeta(z *html.Tokenizer, more bool) error {
	var name, content string
	var hasName, hasContent bool
	for more {
		var k, v []byte
		k, v, more = z.TagAttr()
		switch {
		case string(k) == "name" && !hasName:
			name, hasName = string(v), true
		case string(k) == "content" && !hasContent:
			content, hasContent = string(v), true
		}
	}
	if name != "pypi:repository-version" {
		return nil
	}
	return checkAPIVersion(content)
}

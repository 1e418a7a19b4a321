package python

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
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
func parseProjectPage(base *url.URL, header http.Header, body []byte) (*parsedPage, error) {
	ct, _, _ := mime.ParseMediaType(header.Get("Content-Type"))
	switch {
	case strings.HasSuffix(ct, "+json") || ct == "application/json":
		return parseJSONPage(base, body)
	default:
		return parseHTMLPage(base, body)
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

// parseHTMLPage reads the anchors of a PEP 503 project page.
func parseHTMLPage(base *url.URL, body []byte) (*parsedPage, error) {
	p := &parsedPage{}
	var firstErr error
	err := scanHTML(string(body), func(tag string, attrs []attr, text string) {
		switch tag {
		case "meta":
			if v, ok := attrValue(attrs, "name"); ok && v == "pypi:repository-version" {
				c, _ := attrValue(attrs, "content")
				if err := checkAPIVersion(c); err != nil && firstErr == nil {
					firstErr = err
				}
			}
		case "a":
			href, ok := attrValue(attrs, "href")
			if !ok {
				return
			}
			name := strings.TrimSpace(text)
			ref, frag, _ := strings.Cut(href, "#")
			u, err := resolve(base, ref)
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			if name == "" || strings.ContainsAny(name, "/\\") {
				// The file name is the link text; fall back to the
				// URL's last segment.
				pu, _ := url.Parse(u)
				name = pu.Path[strings.LastIndexByte(pu.Path, '/')+1:]
				if name, err = url.PathUnescape(name); err != nil || name == "" {
					return
				}
			}
			l := link{name: name, url: u, size: -1}
			if k, v, ok := strings.Cut(frag, "="); ok && k != "" && v != "" {
				l.hashes = []hashPair{{k, v}}
			}
			if v, ok := attrValue(attrs, "data-requires-python"); ok {
				l.requiresPython = &v
			}
			if v, ok := attrValue(attrs, "data-gpg-sig"); ok {
				b := v == "true"
				l.gpgSig = &b
			}
			if v, ok := attrValue(attrs, "data-yanked"); ok {
				l.yanked, l.yankedReason = true, v
			}
			v, ok := attrValue(attrs, "data-core-metadata")
			if !ok {
				v, ok = attrValue(attrs, "data-dist-info-metadata")
			}
			if ok && v != "false" {
				l.coreMetadata = true
				if k, h, found := strings.Cut(v, "="); found && k != "" && h != "" {
					l.metadataHashes = []hashPair{{k, h}}
				}
			}
			p.links = append(p.links, l)
		}
	})
	if err != nil {
		return nil, err
	}
	if firstErr != nil {
		return nil, fmt.Errorf("HTML page: %w", firstErr)
	}
	return p, nil
}

// attr is one attribute of an HTML start tag, name lower-cased and value
// unescaped.
type attr struct{ name, value string }

func attrValue(attrs []attr, name string) (string, bool) {
	for _, a := range attrs {
		if a.name == name {
			return a.value, true
		}
	}
	return "", false
}

// scanHTML calls f for every <a> element (with its text) and <meta>
// tag in s. It understands just enough HTML for index pages: comments,
// quoted and unquoted attribute values, character references.
func scanHTML(s string, f func(tag string, attrs []attr, text string)) error {
	for i := 0; i < len(s); {
		lt := strings.IndexByte(s[i:], '<')
		if lt < 0 {
			return nil
		}
		i += lt
		if strings.HasPrefix(s[i:], "<!--") {
			end := strings.Index(s[i+4:], "-->")
			if end < 0 {
				return nil
			}
			i += 4 + end + 3
			continue
		}
		name, attrs, next, ok := startTag(s, i)
		if !ok {
			i++
			continue
		}
		i = next
		switch name {
		case "a":
			end := indexFold(s[i:], "</a")
			text := s[i:]
			if end >= 0 {
				text = s[i : i+end]
				i += end
			} else {
				i = len(s)
			}
			f(name, attrs, html.UnescapeString(stripTags(text)))
		case "meta":
			f(name, attrs, "")
		}
	}
	return nil
}

// startTag reads the start tag at s[i] ('<'): its lower-cased name, its
// attributes and the index after '>'.
func startTag(s string, i int) (string, []attr, int, bool) {
	j := i + 1
	for j < len(s) && isNameChar(s[j]) {
		j++
	}
	if j == i+1 {
		return "", nil, 0, false
	}
	name := strings.ToLower(s[i+1 : j])
	var attrs []attr
	for {
		for j < len(s) && isSpace(s[j]) {
			j++
		}
		if j >= len(s) {
			return "", nil, 0, false
		}
		if s[j] == '>' {
			return name, attrs, j + 1, true
		}
		if s[j] == '/' {
			j++
			continue
		}
		k := j
		for j < len(s) && !isSpace(s[j]) && s[j] != '=' && s[j] != '>' && s[j] != '/' {
			j++
		}
		an := strings.ToLower(s[k:j])
		for j < len(s) && isSpace(s[j]) {
			j++
		}
		val := ""
		if j < len(s) && s[j] == '=' {
			j++
			for j < len(s) && isSpace(s[j]) {
				j++
			}
			if j < len(s) && (s[j] == '"' || s[j] == '\'') {
				q := s[j]
				end := strings.IndexByte(s[j+1:], q)
				if end < 0 {
					return "", nil, 0, false
				}
				val = s[j+1 : j+1+end]
				j += end + 2
			} else {
				k := j
				for j < len(s) && !isSpace(s[j]) && s[j] != '>' {
					j++
				}
				val = s[k:j]
			}
		}
		if an != "" {
			attrs = append(attrs, attr{an, html.UnescapeString(val)})
		}
	}
}

func stripTags(s string) string {
	if strings.IndexByte(s, '<') < 0 {
		return s
	}
	var b strings.Builder
	in := false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '<':
			in = true
		case s[i] == '>':
			in = false
		case !in:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

func isNameChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-'
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

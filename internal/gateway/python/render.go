package python

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// hashPair is one hash of a file: algorithm name and hex digest.
type hashPair struct{ name, value string }

// A dist is one distribution file as an index page lists it.
type dist struct {
	name string
	// target is the Location of a download: the backend or upstream URL,
	// built once and shared by every response.
	target []string
	// hashes, in the order given; the first is put in HTML links.
	hashes         []hashPair
	requiresPython *string
	gpgSig         *bool
	yanked         bool
	yankedReason   string
	// coreMetadata is set when the index offers the file's METADATA
	// (PEP 658/714) at the file's URL plus ".metadata".
	coreMetadata   bool
	metadataHashes []hashPair
	metadataTarget []string
	size           int64 // -1 when unknown
	uploadTime     string
	// version is what events record: the rule's field (python-v1) or
	// the version in the file name, normalized (PEP 440).
	version string
	parsed  Version
	valid   bool // parsed holds a PEP 440 version
}

// A project is the file list of one project.
type project struct {
	name      string // as written
	norm      string // PEP 503 normalized
	packageID string
	files     []*dist // newest version first, then by file name
	byName    map[string]*dist
	// versions lists every version with a file (PEP 700); only when the
	// source gave it.
	versions []string
}

// sortFiles orders files by version, newest first (PEP 440), then by
// name; files without a PEP 440 version come last, by name.
func sortFiles(files []*dist) {
	slices.SortStableFunc(files, func(a, b *dist) int {
		switch {
		case a.valid && b.valid:
			if c := b.parsed.Compare(a.parsed); c != 0 {
				return c
			}
		case a.valid:
			return -1
		case b.valid:
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
}

// page is one rendered representation of an index page.
type page struct {
	body   []byte
	etag   string // quoted
	header http.Header
}

const metaTag = `<meta name="pypi:repository-version" content="1.0">`

// newPage finishes a page: its ETag is a hash of salt and body.
func newPage(salt, body, ctype, cacheControl string) page {
	sum := sha256.Sum256([]byte(salt + body))
	etag := `"` + base64.URLEncoding.EncodeToString(sum[:]) + `"`
	h := http.Header{
		"Etag":           {etag},
		"Content-Length": {strconv.Itoa(len(body))},
		"Content-Type":   {ctype},
		"Vary":           {"Accept"},
	}
	if cacheControl != "" {
		h["Cache-Control"] = []string{cacheControl}
	}
	return page{body: []byte(body), etag: etag, header: h}
}

// rootHTML renders the root page. Without the meta tag it is byte for
// byte Scarf Gateway's page.
func rootHTML(projects []*project, meta bool) string {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html><html>")
	if meta {
		b.WriteString("<head>" + metaTag + "</head>")
	}
	b.WriteString("<body>\n")
	for _, p := range projects {
		b.WriteString(`<a href="/simple/` + html.EscapeString(url.PathEscape(p.norm)) + `/">` + html.EscapeString(p.name) + "</a><br>\n")
	}
	b.WriteString("</body></html>")
	return b.String()
}

func rootJSON(projects []*project) string {
	type entry struct {
		Name string `json:"name"`
	}
	doc := struct {
		Meta     apiMeta `json:"meta"`
		Projects []entry `json:"projects"`
	}{Meta: apiMeta{"1.0"}, Projects: make([]entry, 0, len(projects))}
	for _, p := range projects {
		doc.Projects = append(doc.Projects, entry{p.name})
	}
	return marshal(doc)
}

type apiMeta struct {
	APIVersion string `json:"api-version"`
}

// fileHref is the path of a file on Portico.
func fileHref(p *project, d *dist) string {
	return "/simple/" + url.PathEscape(p.norm) + "/" + url.PathEscape(d.name)
}

// projectHTML renders a project page: one link per file with its hash
// fragment and data attributes, in a fixed order.
func projectHTML(p *project, meta bool) string {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html><html>")
	if meta {
		b.WriteString("<head>" + metaTag + "<title>Links for " + html.EscapeString(p.name) + "</title></head>")
	}
	b.WriteString("<body><h1>" + html.EscapeString(p.name) + "</h1>\n")
	for _, d := range p.files {
		href := fileHref(p, d)
		if len(d.hashes) > 0 {
			href += "#" + d.hashes[0].name + "=" + d.hashes[0].value
		}
		b.WriteString(`<a href="` + html.EscapeString(href) + `"`)
		if d.gpgSig != nil {
			b.WriteString(` data-gpg-sig="` + strconv.FormatBool(*d.gpgSig) + `"`)
		}
		if d.requiresPython != nil {
			b.WriteString(` data-requires-python="` + html.EscapeString(*d.requiresPython) + `"`)
		}
		if d.yanked {
			b.WriteString(` data-yanked="` + html.EscapeString(d.yankedReason) + `"`)
		}
		if d.coreMetadata {
			v := "true"
			if len(d.metadataHashes) > 0 {
				v = d.metadataHashes[0].name + "=" + d.metadataHashes[0].value
			}
			// PEP 714's name, and PEP 658's for older installers.
			b.WriteString(` data-dist-info-metadata="` + html.EscapeString(v) + `" data-core-metadata="` + html.EscapeString(v) + `"`)
		}
		b.WriteString(">" + html.EscapeString(d.name) + "</a><br>\n")
	}
	b.WriteString("</body></html>")
	return b.String()
}

// projectJSON renders a project page as PEP 691 JSON (api-version 1.1
// with sizes and versions when every file has a size, else 1.0).
func projectJSON(p *project) string {
	type file struct {
		Filename       string            `json:"filename"`
		URL            string            `json:"url"`
		Hashes         map[string]string `json:"hashes"`
		RequiresPython *string           `json:"requires-python,omitempty"`
		CoreMetadata   any               `json:"core-metadata,omitempty"`
		DistInfoMeta   any               `json:"dist-info-metadata,omitempty"`
		GPGSig         *bool             `json:"gpg-sig,omitempty"`
		Yanked         any               `json:"yanked,omitempty"`
		Size           *int64            `json:"size,omitempty"`
		UploadTime     string            `json:"upload-time,omitempty"`
	}
	v11 := p.versions != nil
	for _, d := range p.files {
		if d.size < 0 {
			v11 = false
		}
	}
	doc := struct {
		Meta     apiMeta  `json:"meta"`
		Name     string   `json:"name"`
		Versions []string `json:"versions,omitempty"`
		Files    []file   `json:"files"`
	}{Meta: apiMeta{"1.0"}, Name: p.norm, Files: make([]file, 0, len(p.files))}
	if v11 {
		doc.Meta.APIVersion = "1.1"
		doc.Versions = p.versions
	}
	for _, d := range p.files {
		f := file{Filename: d.name, URL: fileHref(p, d), Hashes: map[string]string{}, RequiresPython: d.requiresPython, GPGSig: d.gpgSig, UploadTime: d.uploadTime}
		for _, h := range d.hashes {
			f.Hashes[h.name] = h.value
		}
		if d.coreMetadata {
			var m any = true
			if len(d.metadataHashes) > 0 {
				hs := map[string]string{}
				for _, h := range d.metadataHashes {
					hs[h.name] = h.value
				}
				m = hs
			}
			f.CoreMetadata, f.DistInfoMeta = m, m
		}
		if d.yanked {
			if d.yankedReason != "" {
				f.Yanked = d.yankedReason
			} else {
				f.Yanked = true
			}
		}
		if v11 {
			size := d.size
			f.Size = &size
		}
		doc.Files = append(doc.Files, f)
	}
	return marshal(doc)
}

// marshal encodes v without escaping <, > and &, which JSON does not
// need.
func marshal(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the values above always encode
	return strings.TrimSuffix(b.String(), "\n")
}

// renderProject renders the three formats of a project page. compat
// keeps the text/html page exactly as Scarf Gateway renders python-v1
// pages (no <head>), with its ETag recipe.
func renderProject(p *project, compat bool, cacheControl string) [numFormats]page {
	var pages [numFormats]page
	for f := range numFormats {
		pages[f] = renderProjectFormat(p, compat, f, cacheControl)
	}
	return pages
}

func renderProjectFormat(p *project, compat bool, f format, cacheControl string) page {
	switch f {
	case formatV1JSON:
		return newPage("portico-python-v1-json", projectJSON(p), ctypeV1JSON, cacheControl)
	case formatV1HTML:
		return newPage("portico-python-v1-html", projectHTML(p, true), ctypeV1HTML, cacheControl)
	}
	if !compat {
		return newPage("portico-python-html", projectHTML(p, true), ctypeHTML, cacheControl)
	}
	var urls strings.Builder
	for _, d := range p.files {
		urls.WriteString(d.target[0])
	}
	return newPage("scarf-python-package"+urls.String(), projectHTML(p, false), ctypeHTML, cacheControl)
}

func renderRoot(projects []*project, cacheControl string) [numFormats]page {
	var pages [numFormats]page
	pages[formatHTML] = newPage("scarf-python-rule", rootHTML(projects, false), ctypeHTML, cacheControl)
	pages[formatV1HTML] = newPage("portico-python-v1-html", rootHTML(projects, true), ctypeV1HTML, cacheControl)
	pages[formatV1JSON] = newPage("portico-python-v1-json", rootJSON(projects), ctypeV1JSON, cacheControl)
	return pages
}

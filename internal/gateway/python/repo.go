package python

import (
	"crypto/sha256"
	"encoding/base64"
	"html"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"portico/internal/event"
	"portico/internal/gateway"
	"portico/internal/manifest"
)

// Repository serves the python-v1 rules of one domain.
type Repository struct {
	root     page
	projects map[string]*project
}

type project struct {
	name      string
	packageID string
	page      page
	files     map[string]*file
}

type file struct {
	name       string
	version    string
	backendURL string
	location   []string
}

// page is a rendered index page with its validators.
type page struct {
	body   []byte
	etag   string // quoted
	header http.Header
}

// New builds the repository of one domain's python-v1 rules. When rules
// repeat a project or a file, the first in manifest order wins.
func New(rules []*manifest.PythonV1) (*Repository, error) {
	repo := &Repository{projects: make(map[string]*project)}
	var order []*project
	for _, r := range rules {
		p := repo.projects[r.PackageName]
		if p == nil {
			p = &project{name: r.PackageName, packageID: r.PackageID, files: make(map[string]*file)}
			repo.projects[r.PackageName] = p
			order = append(order, p)
		}
		if _, dup := p.files[r.FileName]; dup {
			continue
		}
		p.files[r.FileName] = &file{name: r.FileName, version: r.Version, backendURL: r.BackendURL, location: []string{r.BackendURL}}
	}
	slices.SortFunc(order, func(a, b *project) int { return strings.Compare(a.name, b.name) })
	var root strings.Builder
	root.WriteString("<!DOCTYPE html><html><body>\n")
	for _, p := range order {
		n := html.EscapeString(p.name)
		root.WriteString(`<a href="/simple/` + n + `/">` + n + "</a><br>\n")
	}
	root.WriteString("</body></html>")
	repo.root = newPage("scarf-python-rule", root.String())

	byRule := make(map[string]*manifest.PythonV1)
	for _, r := range rules {
		key := r.PackageName + "\x00" + r.FileName
		if _, ok := byRule[key]; !ok {
			byRule[key] = r
		}
	}
	for _, p := range order {
		names := make([]string, 0, len(p.files))
		for n := range p.files {
			names = append(names, n)
		}
		slices.Sort(names)
		var b, urls strings.Builder
		pn := html.EscapeString(p.name)
		b.WriteString("<!DOCTYPE html><html><body><h1>" + pn + "</h1>\n")
		for _, n := range names {
			r := byRule[p.name+"\x00"+n]
			urls.WriteString(r.BackendURL)
			href := "/simple/" + p.name + "/" + n
			if r.HashValue != nil {
				href += "#" + r.HashValue.Type + "=" + r.HashValue.Hash
			}
			b.WriteString(`<a href="` + html.EscapeString(href) + `"`)
			if r.GPGSig != nil {
				b.WriteString(` data-gpg-sig="` + strconv.FormatBool(*r.GPGSig) + `"`)
			}
			if r.RequiresPython != nil {
				b.WriteString(` data-requires-python="` + html.EscapeString(*r.RequiresPython) + `"`)
			}
			b.WriteString(">" + html.EscapeString(n) + "</a><br>\n")
		}
		b.WriteString("</body></html>")
		p.page = newPage("scarf-python-package"+urls.String(), b.String())
	}
	return repo, nil
}

func newPage(salt, body string) page {
	sum := sha256.Sum256([]byte(salt + body))
	etag := `"` + base64.URLEncoding.EncodeToString(sum[:]) + `"`
	return page{
		body: []byte(body),
		etag: etag,
		header: http.Header{
			"Etag":           {etag},
			"Content-Length": {strconv.Itoa(len(body))},
			"Content-Type":   {"text/html"},
		},
	}
}

// Serve implements gateway.Rule.
func (repo *Repository) Serve(w http.ResponseWriter, req *gateway.Request) (gateway.Result, bool) {
	m := req.Method()
	if m != http.MethodGet && m != http.MethodHead {
		return gateway.Result{}, false
	}
	segs := req.Segments()
	if len(segs) < 2 || segs[0] != "simple" {
		return gateway.Result{}, false
	}
	ev := event.Event{Kind: event.KindPython}
	switch {
	case len(segs) == 2 && segs[1] == "":
		ev.Python.Object = "index"
		return repo.root.serve(w, req, ev), true
	case len(segs) == 3:
		p := repo.projects[segs[1]]
		if p == nil {
			return gateway.Result{}, false
		}
		ev.PackageID = p.packageID
		ev.Python.Project = p.name
		if segs[2] == "" {
			ev.Python.Object = "project"
			return p.page.serve(w, req, ev), true
		}
		f := p.files[segs[2]]
		if f == nil || m != http.MethodGet {
			return gateway.Result{}, false
		}
		ev.Python.Object = "file"
		ev.Python.Version = f.version
		ev.Python.FileName = f.name
		gateway.RedirectShared(w, f.location)
		return gateway.Result{Status: http.StatusTemporaryRedirect, Outcome: event.OutcomeRedirect, Event: ev}, true
	}
	return gateway.Result{}, false
}

func (pg *page) serve(w http.ResponseWriter, req *gateway.Request, ev event.Event) gateway.Result {
	if inm := req.HTTP.Header["If-None-Match"]; len(inm) > 0 && etagMatches(inm[0], pg.etag) {
		w.Header()["Etag"] = pg.header["Etag"]
		w.WriteHeader(http.StatusNotModified)
		return gateway.Result{Status: http.StatusNotModified, Outcome: event.OutcomeNotModified, Event: ev}
	}
	h := w.Header()
	for k, v := range pg.header {
		h[k] = v
	}
	w.WriteHeader(http.StatusOK)
	if req.Method() != http.MethodHead {
		_, _ = w.Write(pg.body)
	}
	return gateway.Result{Status: http.StatusOK, Outcome: event.OutcomeServe, Event: ev}
}

// etagMatches evaluates If-None-Match as Scarf Gateway does: any listed
// validator equal to etag, quoted or not.
func etagMatches(header, etag string) bool {
	bare := strings.Trim(etag, `"`)
	for piece := range strings.SplitSeq(header, ",") {
		piece = strings.TrimSpace(piece)
		if len(piece) > 1 && piece[0] == '"' && piece[len(piece)-1] == '"' {
			piece = piece[1 : len(piece)-1]
		}
		if piece == bare {
			return true
		}
	}
	return false
}

package badge

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
)

// An element is a node of a parsed SVG document.
type element struct {
	name     string
	attrs    map[string]string
	text     string
	children []*element
	parent   *element
}

// parseSVG decodes doc strictly as XML and returns its root.
func parseSVG(doc []byte) (*element, error) {
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	var root, cur *element
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			e := &element{name: tok.Name.Local, attrs: map[string]string{}, parent: cur}
			for _, a := range tok.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			if cur == nil {
				if root != nil {
					return nil, fmt.Errorf("second root element <%s>", e.name)
				}
				root = e
			} else {
				cur.children = append(cur.children, e)
			}
			cur = e
		case xml.EndElement:
			cur = cur.parent
		case xml.CharData:
			if cur != nil {
				cur.text += string(tok)
			}
		case xml.ProcInst, xml.Directive:
			return nil, fmt.Errorf("unexpected %T", tok)
		}
	}
	if root == nil {
		return nil, fmt.Errorf("no root element")
	}
	return root, nil
}

func (e *element) all(name string) []*element {
	var out []*element
	var walk func(*element)
	walk = func(e *element) {
		for _, c := range e.children {
			if c.name == name {
				out = append(out, c)
			}
			walk(c)
		}
	}
	walk(e)
	return out
}

func (e *element) num(t testing.TB, attr string) float64 {
	t.Helper()
	v, ok := e.attrs[attr]
	if !ok {
		return 0
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		t.Fatalf("<%s %s=%q>: %v", e.name, attr, v, err)
	}
	return f
}

// A span is a horizontal extent in pixels.
type span struct{ lo, hi float64 }

// geometry is what checkSVG measured.
type geometry struct {
	width float64
	texts []span // the visible texts, left to right
	parts []span // the background parts, left to right
	title string
}

// checkSVG checks the properties every badge must have and returns its
// geometry: a well-formed SVG document that says what it shows (role,
// aria-label and title agree), nothing active in it, visible texts each
// inside one background part with room on both sides, no two texts
// overlapping, and parts that tile the badge's width exactly.
func checkSVG(t testing.TB, doc []byte) geometry {
	t.Helper()
	root, err := parseSVG(doc)
	if err != nil {
		t.Fatalf("not well-formed XML: %v\n%s", err, doc)
	}
	if root.name != "svg" {
		t.Fatalf("root is <%s>, want <svg>", root.name)
	}
	var g geometry
	g.width = root.num(t, "width")
	if g.width <= 0 || root.num(t, "height") <= 0 {
		t.Fatalf("size %q×%q", root.attrs["width"], root.attrs["height"])
	}
	if root.attrs["role"] != "img" {
		t.Errorf("role = %q, want img", root.attrs["role"])
	}
	titles := root.all("title")
	if len(titles) != 1 || titles[0].parent != root {
		t.Fatalf("want one <title> in <svg>, got %d", len(titles))
	}
	g.title = titles[0].text
	if root.attrs["aria-label"] != g.title {
		t.Errorf("aria-label %q != title %q", root.attrs["aria-label"], g.title)
	}
	for _, name := range []string{"script", "foreignObject", "a", "image", "use", "style", "iframe"} {
		if len(root.all(name)) != 0 {
			t.Errorf("badge has a <%s>", name)
		}
	}
	var walk func(*element)
	walk = func(e *element) {
		for k, v := range e.attrs {
			if strings.HasPrefix(strings.ToLower(k), "on") || strings.Contains(v, "javascript:") || k == "href" {
				t.Errorf("<%s %s=%q>", e.name, k, v)
			}
		}
		for _, c := range e.children {
			walk(c)
		}
	}
	walk(root)

	social := false
	for _, lg := range root.all("linearGradient") {
		social = social || lg.attrs["id"] == "a"
	}
	for _, r := range root.all("rect") {
		fill := r.attrs["fill"]
		if r.parent.name == "clipPath" || fill == "url(#s)" || fill == "url(#a)" || r.attrs["stroke"] == "#fafafa" {
			continue
		}
		x := r.num(t, "x")
		g.parts = append(g.parts, span{x, x + r.num(t, "width")})
	}
	for _, tx := range root.all("text") {
		if tx.attrs["aria-hidden"] == "true" {
			continue
		}
		c, l := tx.num(t, "x")/10, tx.num(t, "textLength")/10
		if l <= 0 || tx.text == "" {
			t.Errorf("text %q has textLength %v", tx.text, l)
		}
		g.texts = append(g.texts, span{c - l/2, c + l/2})
	}
	for i := 1; i < len(g.texts); i++ {
		if g.texts[i].lo < g.texts[i-1].hi {
			t.Errorf("texts overlap: %v and %v", g.texts[i-1], g.texts[i])
		}
	}
	for _, s := range g.texts {
		inside := false
		for _, p := range g.parts {
			if s.lo >= p.lo+3 && s.hi <= p.hi-3 {
				inside = true
			}
		}
		if !inside {
			t.Errorf("text %v is not inside one part with 3 px to spare: %v", s, g.parts)
		}
	}
	if !social {
		end := 0.0
		for _, p := range g.parts {
			if p.lo != end {
				t.Errorf("parts %v leave a gap or overlap at %v", g.parts, end)
			}
			end = p.hi
		}
		if end != g.width {
			t.Errorf("parts %v end at %v, badge is %v wide", g.parts, end, g.width)
		}
	} else if last := g.parts[len(g.parts)-1]; last.hi > g.width {
		t.Errorf("social parts %v wider than the badge (%v)", g.parts, g.width)
	}
	return g
}

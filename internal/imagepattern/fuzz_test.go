package imagepattern

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// naiveMatch is the reference matcher: plain backtracking over the parsed
// pieces, obviously correct and exponential in the worst case. It gives up
// after budget steps and then reports ok == false.
func naiveMatch(p *Pattern, image []string, budget int) (match, ok bool) {
	if len(image) != len(p.segs) {
		return false, true
	}
	n := naive{budget: budget}
	for i, seg := range p.segs {
		m := n.pieces(seg.pieces, image[i], func(rest string) bool { return rest == "" })
		if n.budget < 0 {
			return false, false
		}
		if !m {
			return false, true
		}
	}
	return true, true
}

type naive struct{ budget int }

// pieces reports whether pieces match a prefix of text such that k accepts
// the remainder.
func (n *naive) pieces(pieces []piece, text string, k func(string) bool) bool {
	n.budget--
	if n.budget < 0 {
		return false
	}
	if len(pieces) == 0 {
		return k(text)
	}
	pc, rest := pieces[0], pieces[1:]
	switch pc.kind {
	case pieceLiteral:
		return strings.HasPrefix(text, pc.text) && n.pieces(rest, text[len(pc.text):], k)
	case pieceStar:
		for i := 0; i <= len(text); i++ {
			if n.pieces(rest, text[i:], k) {
				return true
			}
		}
		return false
	case pieceUnion:
		for _, alt := range pc.alts {
			if n.pieces(alt, text, func(t string) bool { return n.pieces(rest, t, k) }) {
				return true
			}
		}
		return false
	}
	panic("unknown piece kind")
}

// chooser draws deterministic choices from fuzz input.
type chooser struct {
	src string
	i   int
}

func (c *chooser) next() int {
	if c.src == "" {
		return 0
	}
	b := c.src[c.i%len(c.src)]
	c.i++
	return int(b)
}

// sampleImage builds an image the pattern must match: one alternative of
// each union, a short fill for each wildcard.
func sampleImage(p *Pattern, c *chooser) []string {
	image := make([]string, len(p.segs))
	for i, seg := range p.segs {
		var b strings.Builder
		samplePieces(&b, seg.pieces, c)
		image[i] = b.String()
	}
	return image
}

func samplePieces(b *strings.Builder, pieces []piece, c *chooser) {
	const fill = `ab*{},\ é`
	for _, pc := range pieces {
		switch pc.kind {
		case pieceLiteral:
			b.WriteString(pc.text)
		case pieceStar:
			for range c.next() % 4 {
				b.WriteByte(fill[c.next()%len(fill)])
			}
		case pieceUnion:
			samplePieces(b, pc.alts[c.next()%len(pc.alts)], c)
		}
	}
}

// derivedImages returns images near the pattern's language: members, and
// members with a segment lengthened, shortened or added.
func derivedImages(p *Pattern, pattern, seed string) [][]string {
	images := [][]string{
		strings.Split(pattern, "/"),
		strings.Split(seed, "/"),
	}
	for i := range 3 {
		c := &chooser{src: seed, i: i}
		m := sampleImage(p, c)
		images = append(images, m)
		last := len(m) - 1
		longer := append([]string(nil), m...)
		longer[last] += "a"
		images = append(images, longer)
		if m[last] != "" {
			shorter := append([]string(nil), m...)
			shorter[last] = shorter[last][:len(shorter[last])-1]
			images = append(images, shorter)
		}
		images = append(images, append(append([]string(nil), m...), "a"))
	}
	return images
}

func FuzzMatch(f *testing.F) {
	for _, tc := range matchCases {
		f.Add(tc.pattern, strings.Join(tc.image, "/"))
	}
	f.Add(`{a,b{c,d}}*{e,*f}`, "bdxxf")
	f.Fuzz(func(t *testing.T, pattern, image string) {
		// Long inputs only slow the reference matcher down; the bugs it
		// looks for show up in short ones.
		if len(pattern) > 64 || len(image) > 128 {
			return
		}
		p, err := Parse(pattern)
		if err != nil {
			return
		}
		check := func(img []string) {
			want, ok := naiveMatch(p, img, 200000)
			if !ok {
				return
			}
			if got := p.Match(img); got != want {
				t.Errorf("Match(%q, %q) = %v, want %v", pattern, img, got, want)
			}
		}
		check(strings.Split(image, "/"))
		c := &chooser{src: image}
		member := sampleImage(p, c)
		if !p.Match(member) {
			t.Errorf("Match(%q, %q) = false, want true (sampled member)", pattern, member)
		}
		check(member)
		for _, img := range derivedImages(p, pattern, image) {
			check(img)
		}
	})
}

func FuzzParse(f *testing.F) {
	for _, tc := range matchCases {
		f.Add(tc.pattern)
	}
	for _, tc := range parseErrorCases {
		f.Add(tc.pattern)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			se, ok := errors.AsType[*SyntaxError](err)
			if !ok {
				t.Fatalf("Parse(%q) error %T, want *SyntaxError", s, err)
			}
			if n := utf8.RuneCountInString(s); se.Column < 1 || se.Column > n+1 || se.Msg == "" {
				t.Errorf("Parse(%q) error {%d, %q} outside the input (%d runes)", s, se.Column, se.Msg, n)
			}
			return
		}
		printed := p.String()
		if printed != s {
			t.Errorf("Parse(%q).String() = %q, want the input", s, printed)
		}
		q, err := Parse(printed)
		if err != nil {
			t.Fatalf("Parse(%q) = %v, but it is the printing of %q", printed, err, s)
		}
		if again := q.String(); again != printed {
			t.Errorf("Parse(%q).String() = %q, want it unchanged", printed, again)
		}
		if len(s) > 256 {
			// Matching costs time proportional to the pattern size times
			// the image length, and both grow with s.
			return
		}
		if lit, ok := p.Literal(); ok && !p.Match(strings.Split(lit, "/")) {
			t.Errorf("Match(%q, Literal() = %q) = false, want true", s, lit)
		}
		if member := sampleImage(p, &chooser{src: s}); !p.Match(member) || !q.Match(member) {
			t.Errorf("Match(%q, %q) = false, want true (sampled member)", s, member)
		}
		for _, img := range derivedImages(p, s, s) {
			if got, want := q.Match(img), p.Match(img); got != want {
				t.Errorf("Match(%q, %q) = %v, but Match(%q, %q) = %v", printed, img, got, s, img, want)
			}
		}
	})
}

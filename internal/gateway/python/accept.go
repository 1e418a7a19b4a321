package python

import (
	"slices"
	"strconv"
	"strings"
)

// A format is one representation of an index page.
type format uint8

const (
	formatHTML   format = iota // text/html: the PEP 503 page
	formatV1HTML               // application/vnd.pypi.simple.v1+html: PEP 503 with the PEP 629 meta tag
	formatV1JSON               // application/vnd.pypi.simple.v1+json: PEP 691
	numFormats
)

// Content types of the formats, as sent.
const (
	ctypeHTML   = "text/html"
	ctypeV1HTML = "application/vnd.pypi.simple.v1+html"
	ctypeV1JSON = "application/vnd.pypi.simple.v1+json"
)

var formatTypes = [numFormats]string{ctypeHTML, ctypeV1HTML, ctypeV1JSON}

// negotiate picks the format for an Accept header as PEP 691 describes:
// the one with the highest quality. Among equal qualities, a type named
// exactly beats one matched by a wildcard; among exact names the newer
// format wins (JSON, then versioned HTML), and among wildcard matches the
// plain text/html that browsers and old clients expect. No Accept header
// means text/html. ok is false when the client accepts none of them.
func negotiate(accept []string) (f format, ok bool) {
	if len(accept) == 0 {
		return formatHTML, true
	}
	var q [numFormats]int    // thousandths; -1 when not matched
	var spec [numFormats]int // how specific the matching range was
	for i := range q {
		q[i] = -1
	}
	for _, header := range accept {
		for item := range strings.SplitSeq(header, ",") {
			mt, params, _ := strings.Cut(item, ";")
			mt = strings.ToLower(strings.TrimSpace(mt))
			if mt == "" {
				continue
			}
			quality := qvalue(params)
			for i := range numFormats {
				// The most specific range that matches decides.
				switch s := matchSpec(mt, i); {
				case s < 0, q[i] >= 0 && s < spec[i]:
				case q[i] < 0 || s > spec[i]:
					spec[i], q[i] = s, quality
				case quality > q[i]:
					q[i] = quality
				}
			}
		}
	}
	// rank orders candidates: quality, then exact over wildcard, then
	// preference.
	rank := func(i format) [3]int {
		if spec[i] == 3 {
			return [3]int{q[i], 1, int(i)} // JSON > v1 HTML > HTML
		}
		return [3]int{q[i], 0, int(numFormats - 1 - i)} // HTML first
	}
	found := false
	for i := range numFormats {
		if q[i] <= 0 {
			continue
		}
		if a, b := rank(i), rank(f); !found || slices.Compare(a[:], b[:]) > 0 {
			f, found = i, true
		}
	}
	return f, found
}

// matchSpec says how specifically the media range mt names format f:
// 3 exactly (or through the "latest" alias), 2 for type/*, 1 for */*,
// -1 not at all.
func matchSpec(mt string, f format) int {
	switch mt {
	case formatTypes[f]:
		return 3
	case "*/*":
		return 1
	}
	switch f {
	case formatV1JSON:
		if mt == "application/vnd.pypi.simple.latest+json" {
			return 3
		}
		if mt == "application/*" {
			return 2
		}
	case formatV1HTML:
		if mt == "application/vnd.pypi.simple.latest+html" {
			return 3
		}
		if mt == "application/*" {
			return 2
		}
	case formatHTML:
		if mt == "text/*" {
			return 2
		}
	}
	return -1
}

// qvalue reads the q parameter in thousandths; 1000 when absent or
// unreadable.
func qvalue(params string) int {
	for p := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(p, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f > 1 {
			return 1000
		}
		if f < 0 {
			return 0
		}
		return int(f*1000 + 0.5)
	}
	return 1000
}

// etagMatches evaluates an If-None-Match header against etag (quoted):
// "*" matches, and so does any listed validator equal to it under weak
// comparison (W/"x" matches "x"). As in Scarf Gateway, a bare unquoted
// value matches too.
func etagMatches(header, etag string) bool {
	bare := strings.Trim(etag, `"`)
	for piece := range strings.SplitSeq(header, ",") {
		piece = strings.TrimSpace(piece)
		if piece == "*" {
			return true
		}
		piece = strings.TrimPrefix(piece, "W/")
		if len(piece) > 1 && piece[0] == '"' && piece[len(piece)-1] == '"' {
			piece = piece[1 : len(piece)-1]
		}
		if piece == bare {
			return true
		}
	}
	return false
}

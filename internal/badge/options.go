package badge

import "portico/internal/query"

// A Style is the shape of a badge, as shields.io names it.
type Style uint8

// The styles. Flat is the default.
const (
	Flat Style = iota
	FlatSquare
	Plastic
	ForTheBadge
	Social
)

var styleNames = [...]string{"flat", "flat-square", "plastic", "for-the-badge", "social"}

// String returns the style's name in URLs: "flat", "flat-square", ...
func (s Style) String() string {
	if int(s) < len(styleNames) {
		return styleNames[s]
	}
	return ""
}

// ParseStyle returns the style named s.
func ParseStyle(s string) (Style, bool) {
	for i, name := range styleNames {
		if s == name {
			return Style(i), true
		}
	}
	return Flat, false
}

// Options are what a badge URL's query asks of a badge's look. The zero
// Options ask for nothing: the badge's own label and colours, flat.
// Options are comparable, so that they can key a cache.
type Options struct {
	// Label replaces the badge's label when HasLabel is set; an empty
	// Label then removes it.
	Label    string
	HasLabel bool
	// Color, LabelColor and LogoColor are the message's background, the
	// label's background and the logo's colour, or zero for the default.
	Color      Color
	LabelColor Color
	LogoColor  Color
	Logo       Logo
	Style      Style
}

// maxValue bounds the length of a query value Options read, before
// decoding: longer values are ignored. It leaves room for a label of
// MaxText characters of any script, percent-encoded.
const maxValue = 12 * MaxText

// ParseQuery reads Options from a raw URL query, as ParseOptions does.
func ParseQuery(raw string) Options {
	var buf [16]query.Item
	return ParseOptions(query.AppendParse(buf[:0], raw))
}

// ParseOptions reads Options from the parameters of a badge URL, with
// shields.io's names: label, color, label-color (or labelColor), logo,
// logo-color (or logoColor) and style. The first of repeated parameters
// counts. Values that are not what their parameter takes (an unknown
// colour, logo or style) are ignored, so that a bad parameter gives the
// default rather than a broken badge; a label is cleaned (see Clean).
func ParseOptions(items []query.Item) Options {
	var o Options
	var seen uint8
	const (
		seenLabel = 1 << iota
		seenColor
		seenLabelColor
		seenLogo
		seenLogoColor
		seenStyle
	)
	first := func(bit uint8) bool {
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	}
	for _, it := range items {
		if len(it.Value) > maxValue {
			continue
		}
		switch it.Key {
		case "label":
			if first(seenLabel) {
				o.Label, o.HasLabel = Clean(it.Value), true
			}
		case "color", "colorB":
			if first(seenColor) {
				o.Color, _ = ParseColor(it.Value)
			}
		case "label-color", "labelColor", "colorA":
			if first(seenLabelColor) {
				o.LabelColor, _ = ParseColor(it.Value)
			}
		case "logo":
			if first(seenLogo) {
				o.Logo, _ = ParseLogo(it.Value)
			}
		case "logo-color", "logoColor":
			if first(seenLogoColor) {
				o.LogoColor, _ = ParseColor(it.Value)
			}
		case "style":
			if first(seenStyle) {
				o.Style, _ = ParseStyle(it.Value)
			}
		}
	}
	return o
}

package badge

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A Badge is a label and a message, each on its own colour, with an
// optional logo: what a badge shows, before it is drawn.
type Badge struct {
	Label   string
	Message string
	// Color is the message's background (default BrightGreen),
	// LabelColor the label's (default Grey), LogoColor the logo's
	// (default whitesmoke; the brand's colour in the social style).
	Color      Color
	LabelColor Color
	LogoColor  Color
	Logo       Logo
	Style      Style
}

// Apply returns b changed as o asks: its label replaced, its colours,
// logo and style set where o sets them.
func (o Options) Apply(b Badge) Badge {
	if o.HasLabel {
		b.Label = o.Label
	}
	b.Color = o.Color.or(b.Color)
	b.LabelColor = o.LabelColor.or(b.LabelColor)
	b.LogoColor = o.LogoColor.or(b.LogoColor)
	if o.Logo != NoLogo {
		b.Logo = o.Logo
	}
	b.Style = o.Style
	return b
}

// fontFamily is shields.io's: viewers with Verdana draw it, the others
// DejaVu Sans, whose widths the tables hold; textLength makes either fit.
const fontFamily = "Verdana,Geneva,DejaVu Sans,sans-serif"

// whiteSmoke is the default colour of logos on coloured backgrounds.
const whiteSmoke Color = "f5f5f5"

// The geometry of the styles, in pixels.
const (
	pad      = 5  // between a part's edge and its text
	logoSize = 14 // a logo is square
	logoGap  = 3  // between a logo and the text beside it

	ftbMargin     = 12   // for-the-badge: between a part's edge and its text
	ftbLogoMargin = 9    // for-the-badge: between the edge and a logo
	ftbLogoGap    = 6    // for-the-badge: between a logo and its text
	ftbSpacing    = 1250 // for-the-badge: letter spacing, thousandths of a pixel
	ftbSize       = 10   // for-the-badge: font size

	socialPad    = 4 // social: between the bubble's edge and the message
	socialGutter = 6 // social: between the label's box and the bubble
)

// text is one run of text placed on a badge, in tenths of a pixel (the
// SVG draws text at ten times its size, scaled by .1, for subpixel
// positions).
type text struct {
	s      string
	center int // x of the middle
	length int // width the text is stretched or squeezed to
	color  Color
}

// textPx returns a width in thousandths of a pixel as whole pixels,
// rounded up so that the text always fits.
func textPx(milli int) int { return (milli + 999) / 1000 }

// place returns s drawn from x, width w pixels.
func place(s string, x, w int, c Color) text {
	return text{s: s, center: 10*x + 5*w, length: 10 * w, color: c}
}

// SVG returns the badge drawn as an SVG document.
func (b Badge) SVG() []byte { return b.AppendSVG(make([]byte, 0, 2048)) }

// AppendSVG appends the badge drawn as an SVG document to dst. Label and
// message are cleaned (see Clean) and escaped, so any text gives a
// well-formed document.
func (b Badge) AppendSVG(dst []byte) []byte {
	b.Label, b.Message = Clean(b.Label), Clean(b.Message)
	switch b.Style {
	case ForTheBadge:
		b.Label, b.Message = strings.ToUpper(b.Label), strings.ToUpper(b.Message)
		return b.appendForTheBadge(dst)
	case Social:
		b.Label = capitalize(b.Label)
		return b.appendSocial(dst)
	}
	return b.appendFlat(dst)
}

// AccessibleText is what the badge says, for its title and aria-label:
// "label: message", or the message alone.
func (b Badge) AccessibleText() string {
	b.Label, b.Message = Clean(b.Label), Clean(b.Message)
	switch b.Style {
	case ForTheBadge:
		b.Label, b.Message = strings.ToUpper(b.Label), strings.ToUpper(b.Message)
	case Social:
		b.Label = capitalize(b.Label)
	}
	return accessible(b.Label, b.Message)
}

func accessible(label, message string) string {
	if label == "" {
		return message
	}
	return label + ": " + message
}

func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 || unicode.IsUpper(r) {
		return s
	}
	u := unicode.ToUpper(r)
	if u == r {
		return s
	}
	return string(u) + s[n:]
}

// appendFlat draws the flat, flat-square and plastic styles: a label part
// and a message part side by side, the logo at the left of the first.
func (b Badge) appendFlat(dst []byte) []byte {
	height, baseline, radius := 20, 140, 3
	if b.Style == Plastic {
		height, baseline, radius = 18, 130, 4
	}
	color, labelColor := b.Color.or(BrightGreen), b.LabelColor.or(Grey)
	hasLogo := b.Logo != NoLogo
	left := b.Label != "" || hasLogo && b.LabelColor != ""
	lw, mw := textPx(sans.milli(b.Label)), textPx(sans.milli(b.Message))

	x, logoX, leftW := 0, 0, 0
	var label text
	if left {
		x = pad
		if hasLogo {
			logoX = x
			x += logoSize
			if b.Label != "" {
				x += logoGap
			}
		}
		label = place(b.Label, x, lw, labelColor)
		x += lw + pad
		leftW = x
	}
	x += pad
	if hasLogo && !left {
		logoX = x
		x += logoSize + logoGap
	}
	message := place(b.Message, x, mw, color)
	width := x + mw + pad

	dst = appendOpen(dst, width, height, accessible(b.Label, b.Message))
	if b.Style == FlatSquare {
		dst = append(dst, `<g shape-rendering="crispEdges">`...)
	} else {
		if b.Style == Plastic {
			dst = append(dst, `<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#fff" stop-opacity=".7"/><stop offset=".1" stop-color="#aaa" stop-opacity=".1"/><stop offset=".9" stop-color="#000" stop-opacity=".3"/><stop offset="1" stop-color="#000" stop-opacity=".5"/></linearGradient>`...)
		} else {
			dst = append(dst, `<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>`...)
		}
		dst = append(dst, `<clipPath id="r"><rect width="`...)
		dst = strconv.AppendInt(dst, int64(width), 10)
		dst = appendInt(append(dst, `" height="`...), height)
		dst = appendInt(append(dst, `" rx="`...), radius)
		dst = append(dst, `" fill="#fff"/></clipPath><g clip-path="url(#r)">`...)
	}
	if left {
		dst = appendRect(dst, 0, leftW, height, labelColor)
	}
	dst = appendRect(dst, leftW, width-leftW, height, color)
	if b.Style != FlatSquare {
		dst = append(dst, `<rect width="`...)
		dst = appendInt(dst, width)
		dst = appendInt(append(dst, `" height="`...), height)
		dst = append(dst, `" fill="url(#s)"/>`...)
	}
	dst = append(dst, `</g>`...)
	dst = appendTextGroup(dst, 110, false)
	if hasLogo {
		dst = appendLogo(dst, b.Logo, logoX, (height-logoSize)/2, b.LogoColor.or(whiteSmoke))
	}
	shadow := b.Style != FlatSquare
	for _, t := range [2]text{label, message} {
		if t.length == 0 {
			continue // no text, or only marks that take no room
		}
		fg, sh := Color("fff"), Color("010101")
		if t.color.light() {
			fg, sh = "333", "ccc"
		}
		if shadow {
			dst = appendText(dst, t, baseline+10, sh, ` aria-hidden="true" fill-opacity=".3"`)
		}
		dst = appendText(dst, t, baseline, fg, "")
	}
	return append(dst, `</g></svg>`...)
}

// appendForTheBadge draws the for-the-badge style: taller, square, in
// capitals, spaced out, the message in bold.
func (b Badge) appendForTheBadge(dst []byte) []byte {
	const height = 28
	color, labelColor := b.Color.or(BrightGreen), b.LabelColor.or(Grey)
	hasLogo := b.Logo != NoLogo
	left := b.Label != "" || hasLogo && b.LabelColor != ""
	lw, mw := ftbWidth(&sans, b.Label), ftbWidth(&sansBold, b.Message)

	var label text
	leftW, x := 0, ftbMargin
	if hasLogo {
		x = ftbLogoMargin + logoSize + ftbLogoGap
	}
	if left {
		switch {
		case b.Label != "":
			label = place(b.Label, x, lw, labelColor)
			leftW = x + lw + ftbMargin
		default:
			leftW = 2*ftbLogoMargin + logoSize
		}
		x = leftW + ftbMargin
	}
	message := place(b.Message, x, mw, color)
	width := x + mw + ftbMargin

	dst = appendOpen(dst, width, height, accessible(b.Label, b.Message))
	dst = append(dst, `<g shape-rendering="crispEdges">`...)
	if left {
		dst = appendRect(dst, 0, leftW, height, labelColor)
	}
	dst = appendRect(dst, leftW, width-leftW, height, color)
	dst = append(dst, `</g>`...)
	dst = appendTextGroup(dst, 10*ftbSize, false)
	if hasLogo {
		dst = appendLogo(dst, b.Logo, ftbLogoMargin, (height-logoSize)/2, b.LogoColor.or(whiteSmoke))
	}
	for i, t := range [2]text{label, message} {
		if t.length == 0 {
			continue // no text, or only marks that take no room
		}
		fg := Color("fff")
		if t.color.light() {
			fg = "333"
		}
		extra := ""
		if i == 1 {
			extra = ` font-weight="bold"`
		}
		dst = appendText(dst, t, 175, fg, extra)
	}
	return append(dst, `</g></svg>`...)
}

// ftbWidth is the width of s in for-the-badge's letters: ftbSize pixels,
// spaced out.
func ftbWidth(f *face, s string) int {
	if s == "" {
		return 0
	}
	return textPx(f.milli(s)*ftbSize/widthSize + ftbSpacing*utf8.RuneCountInString(s))
}

// appendSocial draws the social style: a light label box and the message
// in a speech bubble beside it, in bold dark text. It keeps its own
// colours; only the logo's can be changed.
func (b Badge) appendSocial(dst []byte) []byte {
	const height, inner = 20, 19
	hasLogo := b.Logo != NoLogo
	lw, mw := textPx(sansBold.milli(b.Label)), textPx(sansBold.milli(b.Message))

	x := pad
	if hasLogo {
		x += logoSize
		if b.Label != "" {
			x += logoGap
		}
	}
	label := place(b.Label, x, lw, "fcfcfc")
	// The box starts half a pixel in, so that its one-pixel border falls
	// on whole pixels; its text moves with it.
	label.center += 5
	boxW := x + lw + pad
	width := boxW + 1
	var message text
	bubbleW := socialPad + mw + socialPad
	if b.Message != "" {
		message = place(b.Message, boxW+socialGutter+socialPad, mw, "fafafa")
		message.center += 5 // as the label's: the bubble starts at .5 too
		width += socialGutter + bubbleW
	}

	dst = appendOpen(dst, width, height, accessible(b.Label, b.Message))
	dst = append(dst, `<linearGradient id="a" x2="0" y2="100%"><stop offset="0" stop-color="#fcfcfc" stop-opacity="0"/><stop offset="1" stop-opacity=".1"/></linearGradient><g stroke="#d5d5d5"><rect stroke="none" fill="#fcfcfc" x=".5" y=".5" width="`...)
	dst = appendInt(dst, boxW)
	dst = appendInt(append(dst, `" height="`...), inner)
	dst = append(dst, `" rx="2"/><rect fill="url(#a)" x=".5" y=".5" width="`...)
	dst = appendInt(dst, boxW)
	dst = appendInt(append(dst, `" height="`...), inner)
	dst = append(dst, `" rx="2"/>`...)
	if b.Message != "" {
		bx := 10*(boxW+socialGutter) + 5 // tenths of a pixel
		dst = appendTenths(append(dst, `<rect x="`...), bx)
		dst = append(dst, `" y=".5" width="`...)
		dst = appendInt(dst, bubbleW)
		dst = appendInt(append(dst, `" height="`...), inner)
		dst = append(dst, `" rx="2" fill="#fafafa"/><rect x="`...)
		dst = appendTenths(dst, bx-5)
		dst = append(dst, `" y="7.5" width=".5" height="5" stroke="#fafafa"/><path d="M`...)
		dst = appendTenths(dst, bx)
		dst = append(dst, ` 6.5l-3 3v1l3 3" fill="#fafafa"/>`...)
	}
	dst = append(dst, `</g>`...)
	dst = appendTextGroup(dst, 110, true)
	if hasLogo {
		dst = appendLogo(dst, b.Logo, pad, (height-logoSize)/2, b.LogoColor.or(logos[b.Logo].color))
	}
	for _, t := range [2]text{label, message} {
		if t.length == 0 {
			continue // no text, or only marks that take no room
		}
		dst = appendText(dst, t, 150, "fff", ` aria-hidden="true"`)
		dst = appendText(dst, t, 140, "333", "")
	}
	return append(dst, `</g></svg>`...)
}

// appendOpen starts the document: its size, and what it says for those
// who cannot see it.
func appendOpen(dst []byte, width, height int, accessibleText string) []byte {
	dst = append(dst, `<svg xmlns="http://www.w3.org/2000/svg" width="`...)
	dst = appendInt(dst, width)
	dst = appendInt(append(dst, `" height="`...), height)
	dst = append(dst, `" role="img" aria-label="`...)
	dst = appendEscaped(dst, accessibleText)
	dst = append(dst, `"><title>`...)
	dst = appendEscaped(dst, accessibleText)
	return append(dst, `</title>`...)
}

func appendTextGroup(dst []byte, size int, bold bool) []byte {
	dst = append(dst, `<g fill="#fff" text-anchor="middle" font-family="`+fontFamily+`" text-rendering="geometricPrecision" font-size="`...)
	dst = appendInt(dst, size)
	if bold {
		dst = append(dst, `" font-weight="700`...)
	}
	return append(dst, `">`...)
}

func appendRect(dst []byte, x, w, h int, fill Color) []byte {
	dst = append(dst, `<rect`...)
	if x != 0 {
		dst = appendInt(append(dst, ` x="`...), x)
		dst = append(dst, '"')
	}
	dst = appendInt(append(dst, ` width="`...), w)
	dst = appendInt(append(dst, `" height="`...), h)
	dst = fill.appendHex(append(dst, `" fill="`...))
	return append(dst, `"/>`...)
}

func appendText(dst []byte, t text, y int, fill Color, extra string) []byte {
	dst = append(dst, `<text`...)
	dst = append(dst, extra...)
	dst = appendInt(append(dst, ` x="`...), t.center)
	dst = appendInt(append(dst, `" y="`...), y)
	dst = fill.appendHex(append(dst, `" fill="`...))
	dst = append(dst, `" transform="scale(.1)" textLength="`...)
	dst = appendInt(dst, t.length)
	dst = append(dst, `">`...)
	dst = appendEscaped(dst, t.s)
	return append(dst, `</text>`...)
}

func appendLogo(dst []byte, l Logo, x, y int, fill Color) []byte {
	dst = appendInt(append(dst, `<svg x="`...), x)
	dst = appendInt(append(dst, `" y="`...), y)
	dst = appendInt(append(dst, `" width="`...), logoSize)
	dst = appendInt(append(dst, `" height="`...), logoSize)
	dst = append(dst, `" viewBox="0 0 24 24"><path fill="`...)
	dst = fill.appendHex(dst)
	dst = append(dst, `" d="`...)
	dst = append(dst, logos[l].path...)
	return append(dst, `"/></svg>`...)
}

func appendInt(dst []byte, v int) []byte { return strconv.AppendInt(dst, int64(v), 10) }

// appendTenths appends v tenths as a decimal number: 65 as "6.5".
func appendTenths(dst []byte, v int) []byte {
	dst = appendInt(dst, v/10)
	if v%10 != 0 {
		dst = append(dst, '.', byte('0'+v%10))
	}
	return dst
}

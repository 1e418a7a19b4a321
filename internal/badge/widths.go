package badge

import "unicode"

//go:generate go run ./widthgen -o widths_gen.go /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf

// A face measures text in one font at widthSize px, in thousandths of a
// pixel. Integer sums keep a width independent of the order characters
// are added in, so equal text always gets an equal badge.
type face struct {
	widths *[len(sansWidths)]uint16
	// other is the width of characters that neither the table nor the
	// wide ranges cover: that of 'm', the widest lower-case Latin letter,
	// so that text in other scripts is given room rather than squeezed.
	other int
}

var (
	sans     = face{widths: &sansWidths, other: int(sansWidths['m'-0x20])}
	sansBold = face{widths: &sansBoldWidths, other: int(sansBoldWidths['m'-0x20])}
)

// emMilli is one em at widthSize px: the width given to East Asian wide
// characters and emoji, which fonts draw on a square.
const emMilli = widthSize * 1000

// rune returns the advance width of r.
func (f *face) rune(r rune) int {
	off := 0
	for _, rg := range widthRanges {
		if r < rg[0] {
			break
		}
		if r <= rg[1] {
			w := f.widths[off+int(r-rg[0])]
			if w != widthMissing {
				return int(w)
			}
			break
		}
		off += int(rg[1] - rg[0] + 1)
	}
	switch {
	case unicode.In(r, unicode.Mn, unicode.Me):
		return 0
	case wide(r):
		return emMilli
	}
	return f.other
}

// milli returns the advance width of s.
func (f *face) milli(s string) int {
	n := 0
	for _, r := range s {
		n += f.rune(r)
	}
	return n
}

// wide reports whether r is East Asian wide or fullwidth, or an emoji:
// the blocks that fonts draw one em wide.
func wide(r rune) bool {
	switch {
	case r < 0x1100:
		return false
	case r <= 0x115F, // Hangul Jamo
		0x2E80 <= r && r <= 0x303E, // CJK radicals, punctuation
		0x3041 <= r && r <= 0x33FF, // kana, CJK compatibility
		0x3400 <= r && r <= 0x4DBF, // CJK extension A
		0x4E00 <= r && r <= 0x9FFF, // CJK unified ideographs
		0xA000 <= r && r <= 0xA4CF, // Yi
		0xAC00 <= r && r <= 0xD7A3, // Hangul syllables
		0xF900 <= r && r <= 0xFAFF, // CJK compatibility ideographs
		0xFE30 <= r && r <= 0xFE4F, // CJK compatibility forms
		0xFF00 <= r && r <= 0xFF60, // fullwidth forms
		0xFFE0 <= r && r <= 0xFFE6,
		0x1F300 <= r && r <= 0x1F64F, // pictographs, emoticons
		0x1F680 <= r && r <= 0x1F6FF, // transport and map symbols
		0x1F900 <= r && r <= 0x1F9FF, // supplemental pictographs
		0x1FA70 <= r && r <= 0x1FAFF, // symbols and pictographs extended-A
		0x20000 <= r && r <= 0x3FFFD: // CJK extensions B and later
		return true
	}
	return false
}

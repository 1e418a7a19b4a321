package badge

// A Color is a badge colour in canonical form: one of shields.io's colour
// names ("brightgreen") or three or six lower-case hex digits without
// '#'. The zero Color means "the default". Only ParseColor and the
// constants make Colors, so a Color is always safe to write into SVG.
type Color string

// Shields.io's named colours, with the values shields draws them in.
const (
	BrightGreen Color = "brightgreen"
	Green       Color = "green"
	YellowGreen Color = "yellowgreen"
	Yellow      Color = "yellow"
	Orange      Color = "orange"
	Red         Color = "red"
	Blue        Color = "blue"
	Grey        Color = "grey"
	LightGrey   Color = "lightgrey"
)

var namedColors = map[Color]string{
	BrightGreen: "4c1",
	Green:       "97ca00",
	YellowGreen: "a4a61d",
	Yellow:      "dfb317",
	Orange:      "fe7d37",
	Red:         "e05d44",
	Blue:        "007ec6",
	Grey:        "555",
	LightGrey:   "9f9f9f",
}

// colorAliases are the other names shields accepts.
var colorAliases = map[string]Color{
	"gray":          Grey,
	"lightgray":     LightGrey,
	"critical":      Red,
	"important":     Orange,
	"success":       BrightGreen,
	"informational": Blue,
	"inactive":      LightGrey,
}

// ParseColor reads a colour as shields.io does: a colour name, an alias
// such as "success" or "gray", or three or six hex digits with or
// without a leading '#' (which arrives as "%23" in a query). Anything
// else is not a colour: the result is false.
func ParseColor(s string) (Color, bool) {
	if len(s) > 0 && s[0] == '#' {
		s = s[1:]
	}
	if len(s) == 3 || len(s) == 6 {
		if hex, lower := isHex(s); hex {
			if !lower {
				s = toLowerASCII(s)
			}
			return Color(s), true
		}
	}
	if len(s) > len("informational") {
		return "", false
	}
	if _, ok := namedColors[Color(s)]; ok {
		return Color(s), true
	}
	if c, ok := colorAliases[s]; ok {
		return c, true
	}
	return "", false
}

// Hex returns the colour as SVG takes it: '#' and three or six hex
// digits. The zero Color has no hex value: "".
func (c Color) Hex() string {
	if c == "" {
		return ""
	}
	if h, ok := namedColors[c]; ok {
		return "#" + h
	}
	return "#" + string(c)
}

// appendHex is Hex appending to dst, without allocating.
func (c Color) appendHex(dst []byte) []byte {
	if h, ok := namedColors[c]; ok {
		return append(append(dst, '#'), h...)
	}
	return append(append(dst, '#'), c...)
}

// rgb returns the colour's channels, 0 to 255.
func (c Color) rgb() (r, g, b int) {
	h, ok := namedColors[c]
	if !ok {
		h = string(c)
	}
	if len(h) == 3 {
		return int(unhex(h[0])) * 17, int(unhex(h[1])) * 17, int(unhex(h[2])) * 17
	}
	if len(h) == 6 {
		return int(unhex(h[0])<<4 | unhex(h[1])), int(unhex(h[2])<<4 | unhex(h[3])), int(unhex(h[4])<<4 | unhex(h[5]))
	}
	return 0, 0, 0
}

// light reports whether text on c must be dark to be read: the colour's
// perceived brightness (ITU-R BT.601 luma) is above 0.69, the threshold
// shields uses.
func (c Color) light() bool {
	r, g, b := c.rgb()
	return r*299+g*587+b*114 > 690*255
}

// or returns c, or def when c is the zero Color.
func (c Color) or(def Color) Color {
	if c == "" {
		return def
	}
	return c
}

func isHex(s string) (hex, lower bool) {
	lower = true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
		case 'A' <= c && c <= 'F':
			lower = false
		default:
			return false, false
		}
	}
	return true, lower
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10
	}
	return 0
}

func toLowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

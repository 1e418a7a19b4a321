package badge

import "strings"

// A Logo is one of the built-in logos a badge can show left of its text;
// the zero Logo is none.
type Logo uint8

// The built-in logos. Their names are Simple Icons' slugs, which
// shields.io takes too.
const (
	NoLogo Logo = iota
	LogoDocker
	LogoGitHub
	LogoGitLab
	LogoGo
	LogoHelm
	LogoKubernetes
	LogoNode
	LogoNPM
	LogoPyPI
	LogoPython
	LogoUbuntu
)

type logo struct {
	slug string
	// color is the brand's colour, as hex digits; social badges draw the
	// logo in it.
	color Color
	// path is the logo's SVG path data on a 24×24 view box.
	path string
}

var logoAliases = map[string]Logo{
	"node":    LogoNode,
	"node.js": LogoNode,
	"nodejs":  LogoNode,
	"golang":  LogoGo,
	"k8s":     LogoKubernetes,
}

// ParseLogo returns the logo named s (a slug such as "docker", or an
// alias such as "node"), regardless of case.
func ParseLogo(s string) (Logo, bool) {
	if s == "" || len(s) > 16 {
		return NoLogo, false
	}
	s = strings.ToLower(s)
	for i := 1; i < len(logos); i++ {
		if logos[i].slug == s {
			return Logo(i), true
		}
	}
	if l, ok := logoAliases[s]; ok {
		return l, true
	}
	return NoLogo, false
}

// String returns the logo's slug, "" for NoLogo.
func (l Logo) String() string {
	if int(l) < len(logos) {
		return logos[l].slug
	}
	return ""
}

// Logos returns the slugs of the built-in logos.
func Logos() []string {
	out := make([]string, 0, len(logos)-1)
	for _, l := range logos[1:] {
		out = append(out, l.slug)
	}
	return out
}

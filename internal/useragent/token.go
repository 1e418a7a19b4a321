package useragent

import "strings"

// A token is one element of a user agent: a product ("name/version", or a
// bare word), a parenthesized comment, or, after the first product of
// pip-style agents, a JSON object.
type token struct {
	name, version string
	comment       string // the text between the parentheses
	json          string // JSON that follows this product
}

// tokenize splits ua into tokens. It accepts anything: unbalanced
// parentheses end at the end of the string, and backslash escapes inside
// comments (docker writes "\(linux\)") are skipped over.
func tokenize(ua string) []token {
	toks := make([]token, 0, 8)
	for i := 0; i < len(ua); {
		switch c := ua[i]; {
		case c == ' ' || c == '\t':
			i++
		case c == '(':
			end := closing(ua, i)
			inner := ua[i+1 : end]
			if end < len(ua) {
				end++
			}
			toks = append(toks, token{comment: strings.TrimSpace(inner)})
			i = end
		case c == '{' && len(toks) == 1 && toks[0].comment == "":
			toks[0].json = ua[i:]
			return toks
		default:
			j := i
			for j < len(ua) && ua[j] != ' ' && ua[j] != '\t' && ua[j] != '(' {
				j++
			}
			name, version, _ := strings.Cut(ua[i:j], "/")
			toks = append(toks, token{name: name, version: version})
			i = j
		}
	}
	return toks
}

// closing returns the index of the parenthesis that closes the one at
// open, or len(s) if there is none.
func closing(s string, open int) int {
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return len(s)
}

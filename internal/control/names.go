package control

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on names and texts.
const (
	MaxOrgName     = 63 // one DNS label: <org>.<base-domain>
	MaxPackageName = 100
	MaxEmail       = 254 // RFC 5321's limit on a path
	MaxDisplayName = 200
	MinPassword    = 10
	MaxPassword    = 1024
)

// reservedOrgs are names an organization cannot take: they are, or may
// become, the gateway's own host names under the base domain.
var reservedOrgs = map[string]bool{
	"api": true, "app": true, "www": true, "admin": true, "static": true,
	"status": true, "docs": true, "mail": true, "portico": true,
}

// CheckOrgName checks an organization name: a DNS label in lower case
// (letters, digits and '-', neither first nor last), so that it can name
// the organization's domain under the base domain.
func CheckOrgName(s string) error {
	if err := checkText(s, MaxOrgName); err != nil {
		return err
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == '-':
			if i == 0 || i == len(s)-1 {
				return fmt.Errorf("must not start or end with '-'")
			}
		case 'A' <= c && c <= 'Z':
			return fmt.Errorf("must be lower case")
		default:
			return fmt.Errorf("%s at offset %d: use lower-case letters, digits and '-'", describe(s, i), i)
		}
	}
	if reservedOrgs[s] {
		return fmt.Errorf("%q is reserved", s)
	}
	return nil
}

// CheckPackageName checks a package name: letters, digits, '.', '_' and
// '-', starting with a letter or digit. Names are unique within an
// organization regardless of case.
func CheckPackageName(s string) error {
	if err := checkText(s, MaxPackageName); err != nil {
		return err
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return fmt.Errorf("%s at offset %d: use letters, digits, '.', '_' and '-', starting with a letter or digit", describe(s, i), i)
		}
	}
	return nil
}

// MaxPackageID bounds a package id given by a client or a manifest.
const MaxPackageID = 200

// CheckPackageID checks a package id that a client or an imported
// manifest chose (ids the API assigns are UUIDs): it appears in API paths
// and in every event, so it is printable text without slashes.
func CheckPackageID(s string) error {
	if err := checkText(s, MaxPackageID); err != nil {
		return err
	}
	for i, r := range s {
		if r == ' ' || r == '?' || r == '#' || r == '%' {
			return fmt.Errorf("%s at offset %d is not allowed in an id", describe(s, i), i)
		}
	}
	return nil
}

// NormalizeEmail checks an e-mail address and returns it in the form it
// is stored and compared in: trimmed and in lower case. (Local parts may
// be case-sensitive by the letter of RFC 5321, but no mail system people
// use treats them so, and people do not type them consistently.)
// Display names ("Ann <ann@example.com>") are refused: an address is
// expected.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if err := checkText(s, MaxEmail); err != nil {
		return "", err
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", fmt.Errorf("%q is not an e-mail address", s)
	}
	return strings.ToLower(s), nil
}

// CheckDisplayName checks a free-text name shown to people: valid UTF-8
// without control characters, at most MaxDisplayName bytes. It may be
// empty.
func CheckDisplayName(s string) error {
	if s == "" {
		return nil
	}
	return checkChars(s, MaxDisplayName, false)
}

// CheckPassword checks a new password's length. Nothing else is required
// of it: length is what makes a password hard to guess.
func CheckPassword(p string) error {
	n := utf8.RuneCountInString(p)
	switch {
	case !utf8.ValidString(p):
		return fmt.Errorf("must be valid UTF-8")
	case n < MinPassword:
		return fmt.Errorf("must be at least %d characters", MinPassword)
	case len(p) > MaxPassword:
		return fmt.Errorf("must be at most %d bytes", MaxPassword)
	}
	return nil
}

// checkText checks what every name has in common: not empty, not longer
// than limit bytes, valid UTF-8, no control characters and no slashes.
func checkText(s string, limit int) error { return checkChars(s, limit, true) }

func checkChars(s string, limit int, noSlashes bool) error {
	switch {
	case s == "":
		return fmt.Errorf("must not be empty")
	case len(s) > limit:
		return fmt.Errorf("must be at most %d bytes, not %d", limit, len(s))
	case !utf8.ValidString(s):
		return fmt.Errorf("must be valid UTF-8")
	}
	for i, r := range s {
		if unicode.IsControl(r) || noSlashes && (r == '/' || r == '\\') || r == unicode.ReplacementChar {
			return fmt.Errorf("%s at offset %d is not allowed", describe(s, i), i)
		}
	}
	return nil
}

// describe names the character at s[i] for an error message, quoting
// printable ones and giving the code point of others.
func describe(s string, i int) string {
	r, _ := utf8.DecodeRuneInString(s[i:])
	if unicode.IsPrint(r) && r != unicode.ReplacementChar {
		return fmt.Sprintf("%q", r)
	}
	return fmt.Sprintf("%U", r)
}

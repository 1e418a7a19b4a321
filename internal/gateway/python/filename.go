package python

import "strings"

// sdistSuffixes are the archive kinds of source distributions, longest
// first so that ".tar.gz" is not taken for ".gz".
var sdistSuffixes = []string{".tar.gz", ".tar.bz2", ".tar.xz", ".tar.Z", ".tgz", ".tbz", ".zip", ".tar"}

// FileVersion returns the version of a distribution file from its name,
// normalized as PEP 440 says, following the naming conventions of wheels
// (name-version[-build]-python-abi-platform.whl), source distributions
// (name-version.tar.gz, .zip, ...) and eggs. project, when known, tells
// where the name ends in source distributions whose names contain '-'.
// ok is false when the name follows none of them; a version that is not
// PEP 440 is returned as written.
func FileVersion(project, file string) (version string, ok bool) {
	raw, ok := fileVersionText(project, file)
	if !ok {
		return "", false
	}
	if v, valid := ParseVersion(raw); valid {
		return v.String(), true
	}
	return raw, true
}

func fileVersionText(project, file string) (string, bool) {
	if base, found := strings.CutSuffix(file, ".whl"); found {
		parts := strings.Split(base, "-")
		if len(parts) != 5 && len(parts) != 6 {
			return "", false
		}
		if parts[0] == "" || parts[1] == "" {
			return "", false
		}
		return parts[1], true
	}
	if base, found := strings.CutSuffix(file, ".egg"); found {
		parts := strings.Split(base, "-")
		if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
			return "", false
		}
		return parts[1], true
	}
	for _, suf := range sdistSuffixes {
		base, found := strings.CutSuffix(file, suf)
		if !found {
			continue
		}
		// With the project known, the name is the longest prefix that
		// normalizes to it.
		if project != "" {
			if i := nameEnd(base, Normalize(project)); i > 0 {
				return base[i+1:], true
			}
		}
		// Otherwise the version starts at the first '-' followed by a
		// digit.
		for i := 0; i+1 < len(base); i++ {
			if base[i] == '-' && i > 0 && '0' <= base[i+1] && base[i+1] <= '9' {
				return base[i+1:], true
			}
		}
		return "", false
	}
	return "", false
}

// nameEnd returns the largest i > 0 such that base[i] is '-', something
// follows it, and base[:i] normalizes to want; -1 if there is none. The
// normal form of base[:i] only grows with i, each a prefix of the next,
// so one pass that compares it with want as it goes finds them all: file
// names come from upstream pages, and normalizing every prefix would take
// quadratic time.
func nameEnd(base, want string) int {
	end := -1
	n := 0 // base[:i] normalizes to want[:n]
	for i := 0; i < len(base); i++ {
		c := base[i]
		if c == '-' && i > 0 && i+1 < len(base) && n == len(want) {
			end = i
		}
		switch {
		case isSep(c) && i > 0 && isSep(base[i-1]):
			continue // a run of separators normalizes to one '-'
		case isSep(c):
			c = '-'
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if n == len(want) || want[n] != c {
			break
		}
		n++
	}
	return end
}

package manifest

import "encoding/json"

// The functions below walk JSON that json.Valid has already accepted. They
// let Decode take a large manifest apart without copying it or building a
// map per rule: a 100,000-rule manifest must load in well under a second.
// They rely on the input being valid and report failure on anything they
// do not expect, so they are never more lenient than the validator.

// member is one key and its raw value inside an object.
type member struct {
	key string
	raw json.RawMessage
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// valueEnd returns the index just after the value that starts at b[i].
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = stringEnd(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	default:
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}

// stringEnd returns the index just after the string that starts at b[i].
func stringEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// fieldNames holds the keys of manifests and their rules, so that
// members returns them without a copy: a manifest repeats them in every
// rule.
var fieldNames = map[string]string{}

func init() {
	for _, k := range []string{"rules", "type", "domain", "package-id", "rule-id", "package-name", "owner",
		"incoming-path", "outgoing-url", "allow-dot-segments", "redirect-target-domain",
		"repository-name", "registry", "pattern", "push", "access-tokens", "credentials-env", "credentials-file",
		"file-name", "version", "backend-url", "backend-simple-index-url", "index-url", "requires-python",
		"gpg-sig", "hash-value", "mode", "always-proxy", "cache-ttl", "allow-publish", "tarball-hosts",
		"upstream-prefix", "upstream-repository"} {
		fieldNames[k] = k
	}
}

// members appends the members of the object b (valid JSON, starting with
// '{') to dst. Keys without escapes are sliced, not decoded.
func members(b []byte, dst []member) ([]member, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return dst, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return dst, true
	}
	for i < len(b) {
		if b[i] != '"' {
			return dst, false
		}
		end := stringEnd(b, i)
		var key string
		var ok bool
		if end-1 > i && b[end-1] == '"' {
			key, ok = fieldNames[string(b[i+1:end-1])]
		}
		if !ok {
			if key, ok = jsonString(b[i:end]); !ok {
				return dst, false
			}
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return dst, false
		}
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return dst, false
		}
		vend := valueEnd(b, i)
		dst = append(dst, member{key: key, raw: b[i:vend:vend]})
		i = skipSpace(b, vend)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
			continue
		}
		return dst, i < len(b) && b[i] == '}'
	}
	return dst, false
}

// elements calls f with each element of the array b (valid JSON, starting
// with '[').
func elements(b []byte, f func(i int, raw json.RawMessage)) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return true
	}
	for n := 0; i < len(b); n++ {
		end := valueEnd(b, i)
		f(n, b[i:end:end])
		i = skipSpace(b, end)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
			continue
		}
		return i < len(b) && b[i] == ']'
	}
	return false
}

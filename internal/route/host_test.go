package route

import (
	"strconv"
	"strings"
	"testing"

	"portico/internal/manifest"
)

func TestParseHost(t *testing.T) {
	tests := []struct {
		in   string
		key  string
		port uint16
	}{
		{"get.acme.dev", "get.acme.dev", 0},
		{"GET.Acme.dev:443", "get.acme.dev", 443},
		{"get.acme.dev.", "get.acme.dev", 0},
		{"get.acme.dev.:8081", "get.acme.dev", 8081},
		{"a_b.test", "a_b.test", 0},
		{"localhost:08081", "localhost", 8081},
		{"127.0.0.1:8081", "127.0.0.1", 8081},
		{"[::1]:8081", "::1", 8081},
		{"[::1]", "::1", 0},
		{"[0:0::1]", "::1", 0},
		{"[2001:DB8::A]:65535", "2001:db8::a", 65535},
		{"x:1", "x", 1},
	}
	for _, tt := range tests {
		key, port, ok := ParseHost(tt.in)
		if !ok || key != tt.key || port != tt.port {
			t.Errorf("ParseHost(%q) = %q, %d, %v; want %q, %d, true", tt.in, key, port, ok, tt.key, tt.port)
		}
	}
}

// TestParseHostRefuses lists Host values that must not route anywhere:
// each once reached the domain its text starts with.
func TestParseHostRefuses(t *testing.T) {
	for _, in := range []string{
		"",
		"f1.test:abc",                   // non-numeric port
		"[f1.test]junk.evil",            // brackets around a name, text after them
		"npm.test:80;evil.example",      // text after the port
		"npm.test:@evil.example",        // userinfo-like text
		"user@f1.test",                  // userinfo
		"f1.test:",                      // empty port
		"f1.test:0",                     // port zero
		"f1.test:65536",                 // port out of range
		"f1.test:000080",                // more than five digits
		"f1.test:-1",                    // sign
		"f1.test: 80",                   // space
		"f1 .test",                      // space in the name
		" f1.test",                      // leading space
		"f1%2Etest",                     // percent-encoding
		"f1.test%00",                    // encoded NUL
		"f1.test\x00",                   // raw NUL
		"f1.test/evil",                  // path
		"f1.test\\evil",                 // backslash
		"f1.test#x",                     // fragment
		"f1.test?x",                     // query
		"f1!.test",                      // sub-delim
		"f1.test..",                     // two trailing dots
		".f1.test",                      // empty first label
		"f1..test",                      // empty label
		".",                             // root only
		"::1",                           // bare IPv6
		"::1:8081",                      // bare IPv6 with what looks like a port
		"[::1",                          // unclosed bracket
		"[::1]x",                        // text after the bracket
		"[::1]:",                        // empty port after a literal
		"[fe80::1%25eth0]",              // zone, RFC 6874 form
		"[fe80::1%eth0]",                // zone, raw
		"[v1.fe80::1]",                  // IPvFuture
		"[1.2.3.4]",                     // IPv4 in brackets
		"[]",                            // empty literal
		"[::1]:8081:80",                 // two ports
		"f1.test:80:81",                 // two ports
		"ünïcode.test",                  // non-ASCII
		strings.Repeat("a", 254),        // too long
		strings.Repeat("a.", 127) + "a", // 255 characters
	} {
		if key, port, ok := ParseHost(in); ok {
			t.Errorf("ParseHost(%q) = %q, %d, accepted", in, key, port)
		}
	}
}

func TestParseHostNoAlloc(t *testing.T) {
	for _, h := range []string{"get.acme.dev:8443", "get.acme.dev", "[::1]:8081", "127.0.0.1"} {
		if n := testing.AllocsPerRun(100, func() { _, _, _ = ParseHost(h) }); n != 0 {
			t.Errorf("ParseHost(%q) allocates %v times, want 0", h, n)
		}
	}
}

// serialize writes a parsed host back in Host header form.
func serialize(key string, port uint16) string {
	if strings.Contains(key, ":") {
		key = "[" + key + "]"
	}
	if port != 0 {
		key += ":" + strconv.Itoa(int(port))
	}
	return key
}

// FuzzParseHost checks that an accepted Host is a host name and nothing
// else: its canonical form, written back, parses to itself and holds only
// the characters of a name, an IPv6 address and a port; and that every
// name a manifest accepts is reached however the client writes it (upper
// case, a port, a trailing dot).
func FuzzParseHost(f *testing.F) {
	for _, s := range []string{"get.acme.dev", "GET.Acme.dev:443", "[::1]:8081", "127.0.0.1", "a_b.test.", "x:0",
		"f1.test:abc", "[f1.test]junk.evil", "npm.test:80;evil.example", "npm.test:@evil.example", "[fe80::1%25eth0]", "::1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if key, port, ok := ParseHost(s); ok {
			for i := 0; i < len(key); i++ {
				c := key[i]
				if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
					t.Fatalf("ParseHost(%q) key %q holds %q", s, key, c)
				}
			}
			canon := serialize(key, port)
			k2, p2, ok2 := ParseHost(canon)
			if !ok2 || k2 != key || p2 != port {
				t.Fatalf("ParseHost(%q) = %q, %d; its canonical form %q parses to %q, %d, %v", s, key, port, canon, k2, p2, ok2)
			}
			// The accepted text is the canonical form up to case, one
			// trailing dot and the spelling of an IPv6 address or port.
			if !strings.Contains(key, ":") && port == 0 && strings.TrimSuffix(strings.ToLower(s), ".") != canon {
				t.Fatalf("ParseHost(%q) accepted text that is not its canonical form %q", s, canon)
			}
		}
		want, err := manifest.HostKey(s)
		if err != nil {
			return
		}
		variants := []string{want, upper(want), want + ":8443", want + "."}
		if strings.Contains(want, ":") {
			variants = []string{"[" + want + "]", "[" + upper(want) + "]:8443"}
		}
		for _, v := range variants {
			if key, _, ok := ParseHost(v); !ok || key != want {
				t.Fatalf("manifest domain %q (key %q) is not reached by Host %q: ParseHost = %q, %v", s, want, v, key, ok)
			}
		}
	})
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

package control

import (
	"strings"
	"testing"
)

func TestCheckOrgName(t *testing.T) {
	for _, ok := range []string{"acme", "a", "acme-corp", "a1", "0x", strings.Repeat("a", 63)} {
		if err := CheckOrgName(ok); err != nil {
			t.Errorf("CheckOrgName(%q) = %v", ok, err)
		}
	}
	for _, c := range []struct{ name, want string }{
		{"", "must not be empty"},
		{strings.Repeat("a", 64), "at most 63 bytes"},
		{"Acme", "lower case"},
		{"-acme", "start or end with '-'"},
		{"acme-", "start or end with '-'"},
		{"ac/me", `'/' at offset 2`},
		{"ac.me", `'.' at offset 2`},
		{"ac\x00me", "U+0000 at offset 2"},
		{"ac\xffme", "valid UTF-8"},
		{"acmé", "'é' at offset 3"},
		{"api", "reserved"},
	} {
		err := CheckOrgName(c.name)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("CheckOrgName(%q) = %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

func TestCheckPackageName(t *testing.T) {
	for _, ok := range []string{"rocket-skates", "Rocket.Skates_2", "x", strings.Repeat("p", 100)} {
		if err := CheckPackageName(ok); err != nil {
			t.Errorf("CheckPackageName(%q) = %v", ok, err)
		}
	}
	for _, c := range []struct{ name, want string }{
		{"", "must not be empty"},
		{strings.Repeat("p", 101), "at most 100 bytes"},
		{"acme/rocket", `'/' at offset 4`},
		{`a\b`, `'\\' at offset 1`},
		{"-x", `'-' at offset 0`},
		{"a b", `' ' at offset 1`},
		{"a\tb", "U+0009 at offset 1"},
		{"a\u202eb", "U+202E at offset 1"},
	} {
		err := CheckPackageName(c.name)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("CheckPackageName(%q) = %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	for in, want := range map[string]string{
		"ann@example.com":     "ann@example.com",
		" Ann@Example.COM ":   "ann@example.com",
		"a.b+tag@sub.example": "a.b+tag@sub.example",
	} {
		got, err := NormalizeEmail(in)
		if err != nil || got != want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "ann", "ann@", "Ann <ann@example.com>", "ann@example.com, bob@example.com", "a\x00@example.com", strings.Repeat("a", 250) + "@example.com"} {
		if got, err := NormalizeEmail(bad); err == nil {
			t.Errorf("NormalizeEmail(%q) = %q, want an error", bad, got)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	if err := CheckPassword("correct horse"); err != nil {
		t.Errorf("CheckPassword: %v", err)
	}
	if err := CheckPassword("ünïcødé🔑🔑🔑"); err != nil {
		t.Errorf("CheckPassword counts characters, not bytes: %v", err)
	}
	for _, bad := range []string{"", "short", strings.Repeat("x", MaxPassword+1), "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6"} {
		if err := CheckPassword(bad); err == nil {
			t.Errorf("CheckPassword(%q) = nil, want an error", bad)
		}
	}
}

func FuzzNames(f *testing.F) {
	for _, s := range []string{"acme", "Acme", "a-b", "a/b", "a\x00", "é", "api"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if CheckOrgName(s) == nil {
			// An accepted organization name is a DNS label.
			if len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' || strings.ToLower(s) != s {
				t.Fatalf("accepted org name %q is not a lower-case DNS label", s)
			}
			for _, c := range []byte(s) {
				if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
					t.Fatalf("accepted org name %q has %q", s, c)
				}
			}
		}
		if CheckPackageName(s) == nil && strings.ContainsAny(s, "/\\ \x00\n") {
			t.Fatalf("accepted package name %q", s)
		}
		if e, err := NormalizeEmail(s); err == nil {
			if again, err := NormalizeEmail(e); err != nil || again != e {
				t.Fatalf("NormalizeEmail(%q) = %q is not stable: %q, %v", s, e, again, err)
			}
		}
	})
}

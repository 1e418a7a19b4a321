package route

import (
	"testing"

	"portico/internal/manifest"
)

func TestHostKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"get.acme.dev", "get.acme.dev"},
		{"GET.Acme.dev:443", "get.acme.dev"},
		{"get.acme.dev.", "get.acme.dev"},
		{"get.acme.dev.:8081", "get.acme.dev"},
		{"[::1]:8081", "::1"},
		{"[::1]", "::1"},
		{"127.0.0.1:8081", "127.0.0.1"},
		{"", ""},
		{"::1", "::1"},
		{"[broken", "[broken"},
	}
	for _, tt := range tests {
		if got := HostKey(tt.in); got != tt.want {
			t.Errorf("HostKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestHostKeyNoAlloc(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = HostKey("get.acme.dev:8443") }); n != 0 {
		t.Errorf("HostKey allocates %v times for a lower-case host, want 0", n)
	}
}

// FuzzHostKey checks that a request's Host reaches the domain a manifest
// names however the client writes it: every name the manifest accepts is
// found again from its upper-case, ported and dotted variants.
func FuzzHostKey(f *testing.F) {
	for _, s := range []string{"get.acme.dev", "GET.Acme.dev:443", "[::1]:8081", "127.0.0.1", "a_b.test.", "x:0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		key := HostKey(s)
		want, err := manifest.HostKey(s)
		if err != nil {
			return
		}
		if key != want {
			t.Fatalf("HostKey(%q) = %q, but a manifest domain %q routes as %q", s, key, s, want)
		}
		for _, variant := range []string{upper(s), want + ":8443", want + "."} {
			if v, err := manifest.HostKey(variant); err == nil && HostKey(variant) != v {
				t.Fatalf("HostKey(%q) = %q, want %q", variant, HostKey(variant), v)
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

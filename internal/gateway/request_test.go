package gateway

import (
	"net/http/httptest"
	"slices"
	"testing"
)

func TestSegments(t *testing.T) {
	tests := []struct {
		raw  string
		want []string
	}{
		{"", nil},
		{"/", nil},
		{"/simple/", []string{"simple", ""}},
		{"/v2/", []string{"v2", ""}},
		{"/a//b", []string{"a", "", "b"}},
		{"/a%2Fb/c+d", []string{"a/b", "c+d"}},
		{"/bad%zz/%FF", []string{"bad%zz", "\uFFFD"}},
		{"/caf%C3%A9", []string{"café"}},
	}
	for _, tt := range tests {
		if got := AppendSegments(nil, tt.raw); !slices.Equal(got, tt.want) {
			t.Errorf("AppendSegments(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}

func TestSplitTarget(t *testing.T) {
	tests := []struct{ target, path, query string }{
		{"/a/b?x=1", "/a/b", "?x=1"},
		{"/a?", "/a", "?"},
		{"/a%20b", "/a%20b", ""},
		{"/..%2F/x", "/..%2F/x", ""},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "http://h/", nil)
		r.RequestURI = tt.target
		if p, q := SplitTarget(r); p != tt.path || q != tt.query {
			t.Errorf("SplitTarget(%q) = %q, %q; want %q, %q", tt.target, p, q, tt.path, tt.query)
		}
	}
	// A proxy-style absolute target keeps its escaped path and query.
	r := httptest.NewRequest("GET", "http://h/a%2Fb?x=1", nil)
	r.RequestURI = "http://h/a%2Fb?x=1"
	if p, q := SplitTarget(r); p != "/a%2Fb" || q != "?x=1" {
		t.Errorf("SplitTarget(absolute) = %q, %q", p, q)
	}
}

func TestNotFound(t *testing.T) {
	tests := []struct {
		path     string
		wantJSON bool
	}{
		{"/v2/x/manifests/1", true},
		{"/v2", true},
		{"/%76%32/", true},
		{"/v2/_catalog", false},
		{"/other", false},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		NotFound(w, tt.path)
		if w.Code != 404 {
			t.Errorf("NotFound(%q) status %d", tt.path, w.Code)
		}
		if got := w.Body.String() == registryNameUnknown; got != tt.wantJSON {
			t.Errorf("NotFound(%q) body %q: registry error body = %v, want %v", tt.path, w.Body.String(), got, tt.wantJSON)
		}
	}
}

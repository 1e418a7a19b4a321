package testenv

import "testing"

func TestRequired(t *testing.T) {
	tests := []struct {
		env, name string
		want      bool
	}{
		{"", "pip", false},
		{"all", "pip", true},
		{"postgres, pip", "pip", true},
		{"postgres,npm", "pip", false},
	}
	for _, tt := range tests {
		t.Setenv(RequireVar, tt.env)
		if got := Required(tt.name); got != tt.want {
			t.Errorf("Required(%q) with %s=%q = %v, want %v", tt.name, RequireVar, tt.env, got, tt.want)
		}
	}
}

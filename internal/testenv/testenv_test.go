package testenv

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"testing"
)

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

func TestDNSServerAddrs(t *testing.T) {
	s := NewDNSServer(t)
	s.SetAddrs("Pebble.Portico.Test", netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1"))
	s.SetTXT("_portico-challenge.pebble.portico.test", "v")
	got, err := s.Resolver().LookupHost(t.Context(), "pebble.portico.test")
	slices.Sort(got)
	if err != nil || !slices.Equal(got, []string{"127.0.0.1", "::1"}) {
		t.Errorf("LookupHost(pebble.portico.test) = %v, %v; want 127.0.0.1 and ::1", got, err)
	}
	if got, err := s.Resolver().LookupHost(t.Context(), "other.test"); err == nil {
		t.Errorf("LookupHost(other.test) = %v, want no such host", got)
	}
	s.SetAddrs("pebble.portico.test")
	if got, err := s.Resolver().LookupHost(t.Context(), "pebble.portico.test"); err == nil {
		t.Errorf("LookupHost(pebble.portico.test) after removing its addresses = %v, want no such host", got)
	}
}

func TestDNSServerTCP(t *testing.T) {
	s := NewDNSServer(t)
	s.SetAddrs("tcp.portico.test", netip.MustParseAddr("127.0.0.1"))
	var d net.Dialer
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", s.Addr)
	}}
	if got, err := r.LookupHost(t.Context(), "tcp.portico.test"); err != nil || !slices.Equal(got, []string{"127.0.0.1"}) {
		t.Errorf("LookupHost over TCP = %v, %v; want 127.0.0.1", got, err)
	}
}

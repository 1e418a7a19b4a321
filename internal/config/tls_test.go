package config

import (
	"slices"
	"strings"
	"testing"
)

func TestTLSDefaults(t *testing.T) {
	c, err := load(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.TLS.HTTPS() || c.TLS.ACME() || c.TLS.ACMECA != LetsEncrypt {
		t.Errorf("defaults: HTTPS %v, ACME %v, CA %q; want HTTPS off and Let's Encrypt named", c.TLS.HTTPS(), c.TLS.ACME(), c.TLS.ACMECA)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate of the defaults: %v", err)
	}
}

// TestTLSPairs: --tls-cert and --tls-key repeat, and the flags replace
// what the environment lists.
func TestTLSPairs(t *testing.T) {
	env := map[string]string{"PORTICO_TLS_CERT": "env.pem, env2.pem", "PORTICO_TLS_KEY": "env.key,env2.key", "PORTICO_HTTPS_LISTEN": ":8443"}
	c, err := load(t, env)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.TLS.Certs, []string{"env.pem", "env2.pem"}) || !slices.Equal(c.TLS.Keys, []string{"env.key", "env2.key"}) {
		t.Errorf("from the environment: certs %q, keys %q", c.TLS.Certs, c.TLS.Keys)
	}
	c, err = load(t, env, "--tls-cert", "a.pem", "--tls-key", "a.key", "--tls-cert", "b.pem", "--tls-key", "b.key")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.TLS.Certs, []string{"a.pem", "b.pem"}) || !slices.Equal(c.TLS.Keys, []string{"a.key", "b.key"}) {
		t.Errorf("flags over the environment: certs %q, keys %q; want the flags' two pairs", c.TLS.Certs, c.TLS.Keys)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestTLSValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string // in the error; "" for none
	}{
		{"acme", []string{"--https-listen", ":8443"}, ""},
		{"files only", []string{"--https-listen", ":8443", "--acme-ca", "off", "--tls-cert", "c.pem", "--tls-key", "k.pem"}, ""},
		{"files without https", []string{"--tls-cert", "c.pem", "--tls-key", "k.pem"}, "need --https-listen"},
		{"odd pairs", []string{"--https-listen", ":8443", "--tls-cert", "c.pem", "--tls-cert", "d.pem", "--tls-key", "k.pem"}, "2 certificates, 1 keys"},
		{"nothing to serve", []string{"--https-listen", ":8443", "--acme-ca", "off"}, "needs certificates"},
		{"plain CA", []string{"--https-listen", ":8443", "--acme-ca", "http://ca.test/dir"}, "https:// directory URL"},
		{"no store", []string{"--https-listen", ":8443", "--data", "none", "--manifest", "m.json"}, "kept in the store"},
		{"bad address", []string{"--https-listen", "443"}, "--https-listen \"443\""},
		{"same address", []string{"--https-listen", ":8081"}, "an address of its own"},
		{"rate", []string{"--https-listen", ":8443", "--acme-rate", "0"}, "--acme-rate"},
	} {
		c, err := load(t, nil, tc.args...)
		if err == nil {
			err = c.Validate()
		}
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: err = %v, want one saying %q", tc.name, err, tc.want)
		}
	}
}

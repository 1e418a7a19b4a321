package config

import (
	"net"
	"net/url"
)

// LetsEncrypt is the directory of Let's Encrypt's production CA, the
// default ACME CA.
const LetsEncrypt = "https://acme-v02.api.letsencrypt.org/directory"

// TLS configures the HTTPS listener and where its certificates come
// from: certificate files given by the operator, an ACME CA that issues
// them on demand for the names the gateway serves, or both (the files
// first, for the names they cover).
type TLS struct {
	// HTTPSListen is the HTTPS listener's address, "off" for none.
	HTTPSListen string
	// HTTPSPort is the port clients reach the HTTPS listener on, which
	// redirects to HTTPS name: behind a port mapping, not the
	// listener's own. 0 takes the listener's port.
	HTTPSPort int
	// ACMECA is the directory URL of the ACME CA; "off" orders nothing.
	ACMECA string
	// ACMECARoot is a PEM file of the roots that the CA's own HTTPS
	// certificate chains to, for a private CA; "" trusts the system's.
	ACMECARoot string
	// ACMEEmail is the ACME account's contact address, if any.
	ACMEEmail string
	// ACMERate is how many certificate orders one gateway may place a
	// minute, in bursts of as many.
	ACMERate int
	// Certs and Keys are --tls-cert and --tls-key, in pairs.
	Certs []string
	Keys  []string
}

// DefaultTLS returns the TLS settings used when nothing is set: no
// HTTPS listener.
func DefaultTLS() TLS {
	return TLS{HTTPSListen: "off", HTTPSPort: 443, ACMECA: LetsEncrypt, ACMERate: 10}
}

// HTTPS reports whether the HTTPS listener is on.
func (c TLS) HTTPS() bool { return c.HTTPSListen != "off" }

// ACME reports whether certificates are ordered from an ACME CA.
func (c TLS) ACME() bool { return c.HTTPS() && c.ACMECA != "off" }

func (c *TLS) settings() []setting {
	return []setting{
		{"https-listen", "`address` of the HTTPS listener, such as :443; \"off\" serves plain HTTP only", &c.HTTPSListen},
		{"https-port", "`port` clients reach the HTTPS listener on, which redirects from HTTP to HTTPS name (behind a port mapping, the public one); 0 takes the listener's own port", &c.HTTPSPort},
		{"acme-ca", "directory `URL` of the ACME CA that issues certificates on demand for the names the gateway serves; \"off\" orders none", &c.ACMECA},
		{"acme-ca-root", "PEM `file` of the roots the ACME CA's own HTTPS certificate chains to, for a private CA; \"\" trusts the system's", &c.ACMECARoot},
		{"acme-email", "contact `address` of the ACME account, for the CA's notices", &c.ACMEEmail},
		{"acme-rate", "certificate orders one gateway may place a minute, in bursts of as many", &c.ACMERate},
		{"tls-cert", "PEM certificate chain `file` served for the names it covers, before any ACME certificate; repeat with --tls-key for several, chosen by SNI; reloaded when it changes", &c.Certs},
		{"tls-key", "PEM private key `file` of the --tls-cert of the same position", &c.Keys},
	}
}

func (c TLS) validate(add func(string, ...any), hasStore bool, listen string) {
	if c.HTTPSPort < 0 || c.HTTPSPort > 65535 {
		add("--https-port must be a port from 1 to 65535, or 0 for the listener's own")
	}
	if !c.HTTPS() {
		if len(c.Certs) > 0 || len(c.Keys) > 0 {
			add("--tls-cert and --tls-key need --https-listen")
		}
		return
	}
	if _, port, err := net.SplitHostPort(c.HTTPSListen); err != nil {
		add("--https-listen %q: %v", c.HTTPSListen, err)
	} else if c.HTTPSListen == listen && port != "0" {
		add("--https-listen and --listen are both %q: HTTPS needs an address of its own", listen)
	}
	if len(c.Certs) != len(c.Keys) {
		add("--tls-cert and --tls-key come in pairs: %d certificates, %d keys", len(c.Certs), len(c.Keys))
	}
	for i, f := range append(append([]string(nil), c.Certs...), c.Keys...) {
		if f == "" {
			flag := "--tls-cert"
			if i >= len(c.Certs) {
				flag = "--tls-key"
			}
			add("%s: empty file name", flag)
		}
	}
	if c.ACMECA == "off" {
		if len(c.Certs) == 0 {
			add("--https-listen with --acme-ca off needs certificates: give --tls-cert and --tls-key")
		}
		return
	}
	if u, err := url.Parse(c.ACMECA); err != nil || u.Scheme != "https" || u.Host == "" {
		add("--acme-ca %q: give the CA's https:// directory URL, or off", c.ACMECA)
	}
	if !hasStore {
		add("--acme-ca: certificates from an ACME CA are kept in the store; with --data none, give --tls-cert and --tls-key and --acme-ca off")
	}
	if c.ACMERate < 1 || c.ACMERate > 600 {
		add("--acme-rate must be between 1 and 600 orders a minute")
	}
}

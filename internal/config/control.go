package config

import (
	"net"
	"strings"
	"time"

	"portico/internal/manifest"
)

// Control configures the control plane: the app listener that serves the
// REST API, and how organizations' domains are named and verified. It is
// on whenever the gateway has a store.
type Control struct {
	// AppListen is the app listener's address, "off" for none.
	AppListen string
	// AppDomain, when set, also serves the app on the gateway listener
	// for that host.
	AppDomain string
	// BaseDomain gives every organization <org>.<BaseDomain>.
	BaseDomain string
	// CNAMETarget is the host custom domains must be a CNAME of, if any.
	CNAMETarget string
	// DNSResolver is the host:port of the DNS server that verifies
	// domains; "" uses the system's.
	DNSResolver string
	// DomainCheckInterval is how often custom domains are re-checked.
	DomainCheckInterval time.Duration
	// SessionTTL is how long a sign-in lasts.
	SessionTTL time.Duration
	// CollectionPackages is how many packages one collection may have
	// created (those that still exist).
	CollectionPackages int
	// CollectionRate is how many packages one collection may create a
	// minute, on each gateway.
	CollectionRate int
}

// DefaultControl returns the control plane's defaults.
func DefaultControl() Control {
	return Control{
		AppListen:           "127.0.0.1:8080",
		DomainCheckInterval: time.Hour,
		SessionTTL:          14 * 24 * time.Hour,
		CollectionPackages:  1000,
		CollectionRate:      10,
	}
}

func (c *Control) settings() []setting {
	return []setting{
		{"app-listen", "`address` of the app listener: the REST API under /api/v1 and the dashboard at /; \"off\" disables it", &c.AppListen},
		{"app-domain", "host `name` for which the gateway listener also serves the app", &c.AppDomain},
		{"base-domain", "`domain` under which every organization gets <org>.DOMAIN, verified from the start", &c.BaseDomain},
		{"cname-target", "host `name` that custom domains must be a CNAME of; \"\" asks only for the TXT record", &c.CNAMETarget},
		{"dns-resolver", "`host:port` of the DNS server that verifies domains; \"\" uses the system's resolver", &c.DNSResolver},
		{"domain-check-interval", "how often verified and pending custom domains are checked again", &c.DomainCheckInterval},
		{"session-ttl", "how long a sign-in to the app lasts", &c.SessionTTL},
		{"collection-packages", "most packages one collection may have created; past it, its downloads are served and counted but create none", &c.CollectionPackages},
		{"collection-rate", "packages one collection may create a minute on each gateway; downloads past it are served and counted, and create their packages later", &c.CollectionRate},
	}
}

func (c Control) validate(add func(string, ...any)) {
	if c.AppListen != "off" {
		if _, _, err := net.SplitHostPort(c.AppListen); err != nil {
			add("--app-listen %q: %v", c.AppListen, err)
		}
	}
	for _, h := range []struct{ flag, v string }{{"app-domain", c.AppDomain}, {"base-domain", c.BaseDomain}, {"cname-target", c.CNAMETarget}} {
		if h.v == "" {
			continue
		}
		if key, err := manifest.HostKey(h.v); err != nil {
			add("--%s: %v", h.flag, err)
		} else if strings.Contains(key, ":") || key != strings.TrimSuffix(strings.ToLower(h.v), ".") {
			add("--%s %q: give a host name without a port", h.flag, h.v)
		}
	}
	if c.DNSResolver != "" {
		if _, _, err := net.SplitHostPort(c.DNSResolver); err != nil {
			add("--dns-resolver %q: give host:port, such as 127.0.0.1:53: %v", c.DNSResolver, err)
		}
	}
	if c.DomainCheckInterval < time.Minute {
		add("--domain-check-interval must be at least 1m")
	}
	if c.SessionTTL < time.Minute {
		add("--session-ttl must be at least 1m")
	}
	if c.CollectionPackages < 1 {
		add("--collection-packages must be at least 1")
	}
	if c.CollectionRate < 1 || c.CollectionRate > 6000 {
		add("--collection-rate must be between 1 and 6000 packages a minute")
	}
}

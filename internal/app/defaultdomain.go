package app

import (
	"fmt"
	"log/slog"
	"strings"

	"portico/internal/manifest"
	"portico/internal/route"
)

// defaultDomain turns --default-domain, and the form of the command line,
// into the router's setting.
func defaultDomain(given string, dropIn bool) route.DefaultDomain {
	switch given {
	case "":
		return route.DefaultDomain{Sole: dropIn}
	case "none":
		return route.DefaultDomain{}
	}
	key, _ := manifest.HostKey(given) // checked by config.Validate
	return route.DefaultDomain{Name: key}
}

// useDefaultDomain configures rt's default domain and says at start-up
// what it is. A --default-domain that the manifest does not name is an
// error, since it is most likely a typo; with Scarf's command line and
// several domains, there is no default, and the log says so once.
func useDefaultDomain(rt *route.Router, given string, dropIn bool, log *slog.Logger) error {
	d := defaultDomain(given, dropIn)
	t := rt.Table()
	switch {
	case d.Name != "" && t.Domain(d.Name) == nil:
		return fmt.Errorf("--default-domain %s: the manifest has no rule for this domain (its domains: %s)", given, strings.Join(t.DomainNames(), ", "))
	case d.Name != "":
		log.Info("default domain", "domain", d.Name)
	case d.Sole && t.Only() != nil:
		log.Info("default domain: the manifest's only domain answers every host", "domain", t.Only().Name)
	case d.Sole:
		log.Info("no default domain: the manifest has several domains, so requests for other hosts get 404; choose one with --default-domain", "domains", strings.Join(t.DomainNames(), ", "))
	}
	rt.SetDefaultDomain(d, log)
	return nil
}

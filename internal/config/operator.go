package config

import (
	"errors"
	"flag"
	"fmt"
)

// Operator holds what the operator's commands (portico users, tokens,
// domains, import and export) need: where the store is, and the base
// domain under which organizations have their domains without adding
// them. They come from the same flags and PORTICO_* variables as serve's,
// so that one environment serves the gateway and its commands.
type Operator struct {
	StoreLocation
	BaseDomain string
}

// DefaultOperator returns the operator's defaults: the gateway's.
func DefaultOperator() Operator {
	return Operator{StoreLocation: DefaultAnalytics().StoreLocation}
}

func (o *Operator) settings() []setting {
	return append(o.StoreLocation.settings(),
		setting{"base-domain", "`domain` under which every organization has <org>.DOMAIN, as given to portico serve", &o.BaseDomain})
}

// Load fills o from the environment and then from args, and returns the
// command's arguments, which may come before, between or after the
// flags.
func (o *Operator) Load(fs *flag.FlagSet, args []string, lookup func(string) (string, bool)) ([]string, error) {
	rest, err := loadSettingsArgs(fs, args, lookup, o.settings(), true)
	if err != nil {
		return nil, err
	}
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	o.StoreLocation.validate(add)
	if o.Data == NoStore && o.Database == "" {
		add("--data %s keeps no store: point --data at the gateway's data directory, or --database at its database", NoStore)
	}
	c := DefaultControl()
	c.BaseDomain = o.BaseDomain
	c.validate(add)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return rest, nil
}

// Control returns the control plane's settings for the operator's
// commands: the defaults, with the base domain.
func (o Operator) Control() Control {
	c := DefaultControl()
	c.BaseDomain = o.BaseDomain
	return c
}

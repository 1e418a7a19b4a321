package config

import (
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
)

func loadOperator(env map[string]string, args ...string) (Operator, []string, error) {
	o := DefaultOperator()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	admin := fs.Bool("admin", false, "")
	fs.String("name", "", "")
	rest, err := o.Load(fs, args, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if *admin {
		rest = append(rest, "(admin)")
	}
	return o, rest, err
}

func TestOperatorArguments(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"a@example.org", "--admin"}, []string{"a@example.org", "(admin)"}},
		{[]string{"--admin", "a@example.org"}, []string{"a@example.org", "(admin)"}},
		{[]string{"--name", "Ann", "a@example.org", "b", "--data", "d"}, []string{"a@example.org", "b"}},
		{[]string{"a@example.org", "--", "--admin"}, []string{"a@example.org", "--admin"}},
		{[]string{"--data", "d"}, nil},
	} {
		_, rest, err := loadOperator(nil, tc.args...)
		if err != nil {
			t.Errorf("Load(%q): %v", tc.args, err)
			continue
		}
		if !slices.Equal(rest, tc.want) {
			t.Errorf("Load(%q) arguments = %q, want %q", tc.args, rest, tc.want)
		}
	}
}

func TestOperatorSettings(t *testing.T) {
	o, _, err := loadOperator(map[string]string{"PORTICO_BASE_DOMAIN": "gw.example.org", "PORTICO_DATA": "/srv/portico"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Data != "/srv/portico" || o.Control().BaseDomain != "gw.example.org" {
		t.Errorf("the environment was not read: %+v", o)
	}
	if o, _, _ := loadOperator(nil); o.Data != DefaultAnalytics().Data {
		t.Errorf("default data directory %q, want serve's %q", o.Data, DefaultAnalytics().Data)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--data", "none"}, "keeps no store"},
		{[]string{"--database", "mysql://db/x"}, "must be a postgres:// URL"},
		{[]string{"--base-domain", "gw.example.org:8080"}, "--base-domain"},
		{[]string{"--nope"}, "not defined"},
	} {
		if _, _, err := loadOperator(nil, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%q) = %v, want an error with %q", tc.args, err, tc.want)
		}
	}
	if _, _, err := loadOperator(nil, "--data", "none", "--database", "postgres://db/x"); err != nil {
		t.Errorf("--database with --data none: %v", err)
	}
}

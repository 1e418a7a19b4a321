package config

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestAnalyticsSettings(t *testing.T) {
	c, err := load(t, map[string]string{"PORTICO_DATA": "/var/lib/portico", "PORTICO_RETENTION_DAYS": "30"},
		"--manifest", "m.json", "--database", "postgres://portico:secret@db:5432/portico", "--geoip-db", "city.mmdb",
		"--asn-db", "asn.mmdb", "--event-flush-interval", "250ms")
	if err != nil {
		t.Fatal(err)
	}
	a := c.Analytics
	if a.Data != "/var/lib/portico" || a.Database != "postgres://portico:secret@db:5432/portico" || a.GeoIPDB != "city.mmdb" ||
		a.ASNDB != "asn.mmdb" || a.FlushInterval != 250*time.Millisecond || a.RetentionDays != 30 || a.Retention() != 30*24*time.Hour {
		t.Errorf("analytics settings = %+v", a)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	d := Default().Analytics
	if d.Data != "./portico-data" || d.Database != "" || d.FlushInterval != time.Second || d.RetentionDays != 90 {
		t.Errorf("default analytics settings = %+v", d)
	}
}

func TestAnalyticsValidate(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--database", "mysql://db/portico"}, "--database must be a postgres:// URL, not mysql://"},
		{[]string{"--database", "postgres://u:p@h/db\x7f"}, "--database is not a valid URL"},
		{[]string{"--data", "none", "--database", "postgres://h/db"}, "--database needs --data for its spool"},
		{[]string{"--data", ""}, "--data must name a directory"},
		{[]string{"--event-flush-interval", "0s"}, "--event-flush-interval must be between"},
		{[]string{"--event-flush-interval", "2m"}, "--event-flush-interval must be between"},
		{[]string{"--retention-days", "-1"}, "--retention-days must not be negative"},
	}
	for _, tt := range tests {
		c, err := load(t, nil, append([]string{"--manifest", "m.json"}, tt.args...)...)
		if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		err = c.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate with %q = %v, want %q", tt.args, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "p@h") {
			t.Errorf("Validate with %q shows the password: %v", tt.args, err)
		}
	}
}

func TestStoreLocationLoad(t *testing.T) {
	var l StoreLocation
	l.Data = "./portico-data"
	fs := flag.NewFlagSet("stats", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	env := map[string]string{"PORTICO_DATABASE": "postgres://h/db"}
	if err := l.Load(fs, []string{"--data", "/srv/data"}, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if l.Data != "/srv/data" || l.Database != "postgres://h/db" {
		t.Errorf("store location = %+v", l)
	}
	fs = flag.NewFlagSet("stats", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := l.Load(fs, []string{"--database", "sqlite://x"}, func(string) (string, bool) { return "", false }); err == nil {
		t.Error("Load accepted a database URL that is not PostgreSQL")
	}
}

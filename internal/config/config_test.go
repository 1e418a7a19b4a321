package config

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, env map[string]string, args ...string) (Config, error) {
	t.Helper()
	c := Default()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	err := c.Load(fs, args, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	return c, err
}

func TestPrecedence(t *testing.T) {
	c, err := load(t, map[string]string{"PORTICO_LISTEN": ":9000", "PORTICO_RELOAD_INTERVAL": "5s", "PORTICO_MANIFEST": "env.json"},
		"--listen", ":9100")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":9100" {
		t.Errorf("Listen = %q, want the flag's :9100 over the environment's", c.Listen)
	}
	if c.ReloadInterval != 5*time.Second || c.Manifest != "env.json" {
		t.Errorf("environment not applied: %+v", c)
	}
	if c.OpsListen != ":8082" || c.Events != "stdout" {
		t.Errorf("defaults not kept: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := load(t, map[string]string{"PORTICO_EVENT_QUEUE": "many"}); err == nil || !strings.Contains(err.Error(), "PORTICO_EVENT_QUEUE") {
		t.Errorf("bad number in the environment: err = %v", err)
	}
	if _, err := load(t, nil, "--nope"); err == nil {
		t.Error("unknown flag accepted")
	}
	if _, err := load(t, nil, "--manifest", "m.json", "stray"); err == nil {
		t.Error("stray argument accepted")
	}
}

func TestValidateReportsEverything(t *testing.T) {
	c := Default()
	c.Listen = "nonsense"
	c.Events = "kafka"
	c.TrustedProxies = "10.0.0.0/99"
	c.LogFormat = "xml"
	c.MaxPythonPage = 100
	c.MaxPackument = -1
	c.Analytics.Data = NoStore
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate accepted a bad configuration")
	}
	for _, want := range []string{"--manifest is required", "--listen", "--events", "--trusted-proxies", "--log-format", "--max-python-page-bytes", "--max-packument-bytes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error lacks %q:\n%v", want, err)
		}
	}
}

func TestManifestOptionalWithAStore(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Errorf("no manifest, embedded store: %v", err)
	}
	c.Control.AppListen = "nowhere"
	c.Control.BaseDomain = "gw.test:8081"
	c.Control.DNSResolver = "127.0.0.1"
	c.Control.DomainCheckInterval = time.Second
	c.Control.CollectionPackages = 0
	c.Control.CollectionRate = 6001
	err := c.Validate()
	for _, want := range []string{"--app-listen", "--base-domain", "--dns-resolver", "--domain-check-interval", "--collection-packages", "--collection-rate"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error lacks %q:\n%v", want, err)
		}
	}
}

func TestAllowPrivateUpstreams(t *testing.T) {
	if c, _ := load(t, nil); c.AllowPrivateUpstreams {
		t.Error("private upstreams allowed by default")
	}
	if c, err := load(t, map[string]string{"PORTICO_ALLOW_PRIVATE_UPSTREAMS": "true"}); err != nil || !c.AllowPrivateUpstreams {
		t.Errorf("from the environment: %v %v", c.AllowPrivateUpstreams, err)
	}
	if c, err := load(t, map[string]string{"PORTICO_ALLOW_PRIVATE_UPSTREAMS": "true"}, "--allow-private-upstreams=false"); err != nil || c.AllowPrivateUpstreams {
		t.Errorf("the flag does not win over the environment: %v %v", c.AllowPrivateUpstreams, err)
	}
	if _, err := load(t, map[string]string{"PORTICO_ALLOW_PRIVATE_UPSTREAMS": "sometimes"}); err == nil || !strings.Contains(err.Error(), "PORTICO_ALLOW_PRIVATE_UPSTREAMS") {
		t.Errorf("bad boolean: %v", err)
	}
}

func TestDocumentLimits(t *testing.T) {
	c, err := load(t, map[string]string{"PORTICO_MAX_PACKUMENT_BYTES": "1048576"}, "--max-python-page-bytes", "2097152")
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxPythonPage != 2<<20 || c.MaxPackument != 1<<20 {
		t.Errorf("limits %d, %d; want 2 MiB and 1 MiB", c.MaxPythonPage, c.MaxPackument)
	}
	if d := Default(); d.MaxPythonPage != 64<<20 || d.MaxPackument != 64<<20 {
		t.Errorf("default limits %d, %d; want 64 MiB each", d.MaxPythonPage, d.MaxPackument)
	}
}

func TestBodyTimeout(t *testing.T) {
	c, err := load(t, map[string]string{"PORTICO_BODY_TIMEOUT": "3s"}, "--manifest", "m.json")
	if err != nil || c.BodyTimeout != 3*time.Second {
		t.Fatalf("PORTICO_BODY_TIMEOUT: %v, %v", c.BodyTimeout, err)
	}
	if c, _ := load(t, nil, "--manifest", "m.json"); c.BodyTimeout != 10*time.Second {
		t.Errorf("default body timeout %v, want 10s", c.BodyTimeout)
	}
	c, _ = load(t, nil, "--manifest", "m.json", "--body-timeout", "0s")
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--body-timeout") {
		t.Errorf("a zero body timeout: Validate = %v", err)
	}
}

func TestLimitsSettings(t *testing.T) {
	c, err := load(t, map[string]string{"PORTICO_RATE_LIMIT": "2.5", "PORTICO_UPSTREAM_MAX_CONNS": "16"}, "--rate-limit-burst", "10", "--stall-timeout", "30s")
	if err != nil {
		t.Fatal(err)
	}
	if c.RateLimit != 2.5 || c.RateLimitBurst != 10 || c.UpstreamMaxConns != 16 || c.StallTimeout != 30*time.Second {
		t.Errorf("limits not read: rate %v burst %d conns %d stall %v", c.RateLimit, c.RateLimitBurst, c.UpstreamMaxConns, c.StallTimeout)
	}
	if _, err := load(t, map[string]string{"PORTICO_RATE_LIMIT": "fast"}); err == nil || !strings.Contains(err.Error(), "PORTICO_RATE_LIMIT") {
		t.Errorf("a rate that is not a number: err = %v", err)
	}
	c = Default()
	c.Manifest = "m.json"
	c.RateLimit, c.RateLimitBurst, c.RateLimitClients, c.UpstreamMaxConns, c.StallTimeout = -1, -1, 0, -1, 0
	err = c.Validate()
	for _, want := range []string{"--rate-limit must", "--rate-limit-burst", "--rate-limit-clients", "--upstream-max-conns", "--stall-timeout"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate does not report %s: %v", want, err)
		}
	}
}

func TestFallbackSettings(t *testing.T) {
	c, err := load(t, map[string]string{"PORTICO_FALLBACK_AFTER": "5"}, "--probe-interval", "2s", "--fallback-timeout", "3s")
	if err != nil {
		t.Fatal(err)
	}
	if c.FallbackAfter != 5 || c.ProbeInterval != 2*time.Second || c.FallbackTimeout != 3*time.Second {
		t.Errorf("fallback settings not read: after %d, probes %v, timeout %v", c.FallbackAfter, c.ProbeInterval, c.FallbackTimeout)
	}
	c = Default()
	c.Manifest = "m.json"
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	c.FallbackAfter, c.ProbeInterval, c.FallbackTimeout = 0, -time.Second, 0
	err = c.Validate()
	for _, want := range []string{"--fallback-after", "--probe-interval", "--fallback-timeout"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate does not report %s: %v", want, err)
		}
	}
}

// Package config holds the gateway's process settings: listen addresses,
// trusted proxies, logging and limits. They come from command-line flags
// and PORTICO_* environment variables (flags win) and change only with a
// restart. Routing data, the manifest, is not configuration in this sense:
// it is reloaded live by package reload.
package config

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"portico/internal/clientip"
	"portico/internal/manifest"
)

// Config is the gateway's process configuration.
type Config struct {
	Manifest       string
	Listen         string
	OpsListen      string
	TrustedProxies string
	Events         string
	LogFormat      string
	LogLevel       string
	// AccessLog writes a line per gateway request to the log stream.
	AccessLog bool
	// OTLPEndpoint is the base URL of the OTLP/HTTP receiver traces go
	// to; OTLPFromEnv is set when, without it, the standard
	// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
	// names one. With neither, nothing is traced.
	OTLPEndpoint string
	OTLPFromEnv  bool
	// Pprof serves the Go profiler under /debug/pprof/ on the ops
	// listener.
	Pprof           bool
	ReloadInterval  time.Duration
	ShutdownTimeout time.Duration
	EventQueue      int
	MaxHeaderBytes  int
	HeaderTimeout   time.Duration
	BodyTimeout     time.Duration
	IdleTimeout     time.Duration
	// StallTimeout bounds how long a streamed body, a proxied download
	// or a push, may make no progress.
	StallTimeout  time.Duration
	MaxPythonPage int // bytes of an upstream project page
	MaxPackument  int // bytes of an upstream packument
	TokenKeyFile  string
	// AllowPrivateUpstreams lets requests that do not go to a rule's own
	// backend (token services, tarball hosts, storage redirects) reach
	// private, loopback and link-local addresses.
	AllowPrivateUpstreams bool
	// UpstreamMaxConns caps the requests in flight on behalf of one
	// rule backend; 0 is no cap.
	UpstreamMaxConns int
	// CacheDir holds the proxy cache; "" turns it off. CacheMaxBytes
	// caps it (0: no cap); CacheTagTTL is how long a docker tag's
	// digest is trusted before the registry is asked again.
	CacheDir      string
	CacheMaxBytes int
	CacheTagTTL   time.Duration
	// FallbackAfter is the number of consecutive failures that mark a
	// rule's backend down; ProbeInterval the time between probes of
	// backends that take part in a fallback (0: no probes);
	// FallbackTimeout how long a primary backend has to answer before
	// its fallback is asked.
	FallbackAfter   int
	ProbeInterval   time.Duration
	FallbackTimeout time.Duration
	// RateLimit is the requests per second allowed to one client
	// address (0: no limit), in bursts of RateLimitBurst, with at most
	// RateLimitClients addresses tracked.
	RateLimit        float64
	RateLimitBurst   int
	RateLimitClients int
	// DefaultDomain is --default-domain as given: "" when not given,
	// "none", or a manifest domain.
	DefaultDomain string
	// DropIn is set for Scarf Gateway's command line, "portico
	// --manifest FILE" without a subcommand: without --default-domain,
	// a manifest's only domain then answers every host.
	DropIn bool
	// Version is the build's version, which traces carry; the command
	// sets it, it is no flag.
	Version   string
	Analytics Analytics
	Control   Control
	TLS       TLS
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		Listen:           ":8081",
		OpsListen:        ":8082",
		TrustedProxies:   clientip.DefaultTrusted,
		Events:           "stdout",
		LogFormat:        "text",
		LogLevel:         "info",
		ReloadInterval:   time.Second,
		ShutdownTimeout:  30 * time.Second,
		EventQueue:       8192,
		MaxHeaderBytes:   64 << 10,
		HeaderTimeout:    10 * time.Second,
		BodyTimeout:      10 * time.Second,
		IdleTimeout:      120 * time.Second,
		StallTimeout:     60 * time.Second,
		MaxPythonPage:    64 << 20,
		MaxPackument:     64 << 20,
		UpstreamMaxConns: 256,
		CacheTagTTL:      time.Minute,
		FallbackAfter:    3,
		ProbeInterval:    15 * time.Second,
		FallbackTimeout:  10 * time.Second,
		RateLimitClients: 65536,
		Analytics:        DefaultAnalytics(),
		Control:          DefaultControl(),
		TLS:              DefaultTLS(),
	}
}

// setting ties a field to its flag and environment variable.
type setting struct {
	flag  string
	usage string
	ptr   any // *string, *int, *float64, *bool, *time.Duration, or *[]string for a flag that may repeat
}

func (c *Config) settings() []setting {
	return []setting{
		{"manifest", "manifest `file` to serve (Scarf Gateway format), reloaded when it changes and on SIGHUP; optional with a store, whose packages are served beside it", &c.Manifest},
		{"listen", "gateway listen `address`", &c.Listen},
		{"ops-listen", "`address` for /healthz, /readyz and /metrics; \"off\" disables them", &c.OpsListen},
		{"trusted-proxies", "comma-separated `CIDRs` whose X-Forwarded-Host and X-Forwarded-For are believed; \"\" trusts none", &c.TrustedProxies},
		{"events", "where analytics events go: stdout (JSON lines) or none", &c.Events},
		{"log-format", "log format on stderr: text or json", &c.LogFormat},
		{"log-level", "log level: debug, info, warn or error", &c.LogLevel},
		{"access-log", "log a line per gateway request (method, host, path, status, bytes, duration, kind, outcome, request id; never the client address), in the log format, whatever --log-level", &c.AccessLog},
		{"otlp-endpoint", "base `URL` of an OpenTelemetry OTLP/HTTP receiver (http://collector:4318) to send traces to; \"\" traces nothing unless OTEL_EXPORTER_OTLP_ENDPOINT names one", &c.OTLPEndpoint},
		{"pprof", "serve the Go profiler under /debug/pprof/ on the ops listener", &c.Pprof},
		{"reload-interval", "how often to check the manifest for changes besides its file events, and to poll the store's config version; 0 turns file events and polling off, and the manifest is read on SIGHUP only", &c.ReloadInterval},
		{"shutdown-timeout", "how long in-flight requests may take to finish on SIGTERM", &c.ShutdownTimeout},
		{"event-queue", "events that may wait for the event pipeline before new ones are dropped", &c.EventQueue},
		{"max-header-bytes", "largest request header accepted", &c.MaxHeaderBytes},
		{"header-timeout", "time a client has to send the request header", &c.HeaderTimeout},
		{"body-timeout", "time a client has to send a request body that a rule reads (telemetry, scarf-js and file events, token forms); pushes are not bounded by it", &c.BodyTimeout},
		{"idle-timeout", "how long an idle keep-alive connection is kept", &c.IdleTimeout},
		{"stall-timeout", "how long a proxied body, a download or a push, may make no progress (the client not reading or not sending, the backend not sending) before the transfer is abandoned and its backend connection released; it never limits a transfer that moves", &c.StallTimeout},
		{"max-python-page-bytes", "largest upstream Python project page (HTML or JSON) read; larger ones are refused", &c.MaxPythonPage},
		{"max-packument-bytes", "largest upstream npm packument read; larger ones are refused", &c.MaxPackument},
		{"default-domain", "manifest `domain` that answers requests whose host no domain names, as if sent to it; \"none\" answers them 404 (the default, except that \"portico --manifest FILE\" without a subcommand defaults to a manifest's only domain)", &c.DefaultDomain},
		{"token-key-file", "`file` with the secret (32 bytes or more) that signs registry tokens; replicas must share it; \"\" uses a random key per process", &c.TokenKeyFile},
		{"upstream-max-conns", "most requests in flight on behalf of one rule backend (its registry, index or file host, with its token service and storage), each holding a connection until its body is sent; more wait for a slot, up to a minute; 0 is no cap", &c.UpstreamMaxConns},
		{"fallback-after", "consecutive failures (connection errors, timeouts, 5xx answers) of requests or probes that mark a backend with a fallback, or a fallback, down; redirects then go to the fallback, and proxied requests go there first, until a probe succeeds", &c.FallbackAfter},
		{"probe-interval", "time between probes of the backends that take part in a fallback (docker /v2/, the index or registry base, a file URL's host); 0 turns probes off", &c.ProbeInterval},
		{"fallback-timeout", "how long a backend that has a fallback may take to answer a proxied request with its headers before the request goes to the fallback; it also bounds a probe", &c.FallbackTimeout},
		{"rate-limit", "requests per second allowed to one client address (an IPv6 client's /64), as --trusted-proxies identify it; more are answered 429 with Retry-After; 0 turns the limit off", &c.RateLimit},
		{"rate-limit-burst", "requests a client may send at once after a pause; 0 means --rate-limit rounded up", &c.RateLimitBurst},
		{"rate-limit-clients", "client addresses the rate limit keeps in memory (never on disk); past it, those seen least recently are forgotten", &c.RateLimitClients},
		{"cache-dir", "`directory` of the proxy cache, which keeps the docker blobs and manifests, npm tarballs and Python files of the rules that ask for it (\"cache\": true, \"mode\": \"cache\"), verified against their digests; \"\" turns it off", &c.CacheDir},
		{"cache-max-bytes", "size cap of the proxy cache; the least recently used objects are removed to keep under it; 0 is no cap", &c.CacheMaxBytes},
		{"cache-tag-ttl", "how long the proxy cache trusts the digest a docker tag named before asking the registry again; when the registry fails, the last one is served, with a Warning header", &c.CacheTagTTL},
		{"allow-private-upstreams", "let token services, tarball hosts and storage redirects be on private, loopback or link-local addresses (a rule's own backend always may be); metadata addresses stay refused", &c.AllowPrivateUpstreams},
	}
}

// EnvName returns the environment variable for a flag: PORTICO_ and the
// flag name in upper case with '_' for '-'.
func EnvName(flagName string) string {
	return "PORTICO_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Load fills c from the environment (through lookup) and then from args.
// Unknown flags, bad values and stray arguments are errors.
func (c *Config) Load(fs *flag.FlagSet, args []string, lookup func(string) (string, bool)) error {
	if err := loadSettings(fs, args, lookup, slices.Concat(c.settings(), c.Analytics.settings(), c.Control.settings(), c.TLS.settings())); err != nil {
		return err
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		if v, ok := lookup(name); ok && v != "" {
			c.OTLPFromEnv = true
		}
	}
	if v, ok := lookup("OTEL_SDK_DISABLED"); ok && strings.EqualFold(v, "true") {
		c.OTLPFromEnv = false
	}
	return nil
}

// Tracing reports whether traces are exported.
func (c Config) Tracing() bool { return c.OTLPEndpoint != "" || c.OTLPFromEnv }

func loadSettings(fs *flag.FlagSet, args []string, lookup func(string) (string, bool), settings []setting) error {
	rest, err := loadSettingsArgs(fs, args, lookup, settings, false)
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("unexpected argument %q", rest[0])
	}
	return err
}

// loadSettingsArgs is loadSettings for commands that also take
// arguments. With interspersed, flags may follow arguments ("portico
// users add EMAIL --admin"), and every argument is returned; without,
// parsing stops at the first argument, which is returned with the rest.
func loadSettingsArgs(fs *flag.FlagSet, args []string, lookup func(string) (string, bool), settings []setting, interspersed bool) ([]string, error) {
	var errs []error
	for _, s := range settings {
		if v, ok := lookup(EnvName(s.flag)); ok {
			if err := set(s.ptr, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", EnvName(s.flag), err))
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for _, s := range settings {
		usage := s.usage + " (env " + EnvName(s.flag) + ")"
		switch p := s.ptr.(type) {
		case *string:
			fs.StringVar(p, s.flag, *p, usage)
		case *int:
			fs.IntVar(p, s.flag, *p, usage)
		case *float64:
			fs.Float64Var(p, s.flag, *p, usage)
		case *time.Duration:
			fs.DurationVar(p, s.flag, *p, usage)
		case *bool:
			fs.BoolVar(p, s.flag, *p, usage)
		case *[]string:
			// Each use adds one; the first replaces what the
			// environment gave.
			fromFlags := false
			fs.Func(s.flag, usage, func(v string) error {
				if !fromFlags {
					*p, fromFlags = nil, true
				}
				*p = append(*p, v)
				return nil
			})
		}
	}
	if !interspersed {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		return fs.Args(), nil
	}
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		// "--" ends the flags: what follows is arguments only.
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

func set(ptr any, v string) error {
	switch p := ptr.(type) {
	case *string:
		*p = v
	case *int:
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("not a number: %q", v)
		}
		*p = n
	case *float64:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("not a number: %q", v)
		}
		*p = f
	case *time.Duration:
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("not a duration such as 1s or 500ms: %q", v)
		}
		*p = d
	case *bool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("not true or false: %q", v)
		}
		*p = b
	case *[]string:
		// A repeatable flag's variable holds a comma-separated list.
		*p = nil
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				*p = append(*p, item)
			}
		}
	}
	return nil
}

// HasStore reports whether the gateway has a store: the embedded one
// (--data) or PostgreSQL (--database). The control plane lives in it.
func (c Config) HasStore() bool { return c.Analytics.Data != NoStore }

// Validate reports every problem with c. It has no side effects.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Manifest == "" && !c.HasStore() {
		add("--manifest is required with --data none: without a store, a manifest is the only source of rules")
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		add("--listen %q: %v", c.Listen, err)
	}
	if c.OpsListen != "off" {
		if _, _, err := net.SplitHostPort(c.OpsListen); err != nil {
			add("--ops-listen %q: %v", c.OpsListen, err)
		}
	}
	if _, err := clientip.ParseTrusted(c.TrustedProxies); err != nil {
		add("--trusted-proxies: %v", err)
	}
	switch c.Events {
	case "stdout", "none":
	default:
		add("--events %q: must be stdout or none", c.Events)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		add("--log-format %q: must be text or json", c.LogFormat)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		add("--log-level %q: must be debug, info, warn or error", c.LogLevel)
	}
	if c.OTLPEndpoint != "" {
		u, err := url.Parse(c.OTLPEndpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" {
			add("--otlp-endpoint %q: must be an http:// or https:// URL of an OTLP/HTTP receiver, such as http://collector:4318", c.OTLPEndpoint)
		}
	}
	if c.ReloadInterval < 0 {
		add("--reload-interval must not be negative")
	}
	if c.ShutdownTimeout <= 0 {
		add("--shutdown-timeout must be positive")
	}
	if c.EventQueue < 1 {
		add("--event-queue must be at least 1")
	}
	if c.MaxHeaderBytes < 4096 {
		add("--max-header-bytes must be at least 4096")
	}
	if c.MaxPythonPage < 64<<10 {
		add("--max-python-page-bytes must be at least 65536")
	}
	if math.IsNaN(c.RateLimit) || math.IsInf(c.RateLimit, 0) || c.RateLimit < 0 {
		add("--rate-limit must be a number of requests per second, 0 or more")
	}
	if c.RateLimitBurst < 0 {
		add("--rate-limit-burst must not be negative")
	}
	if c.RateLimitClients < 1 {
		add("--rate-limit-clients must be at least 1")
	}
	if c.UpstreamMaxConns < 0 {
		add("--upstream-max-conns must not be negative (0 is no cap)")
	}
	if c.CacheMaxBytes < 0 || c.CacheTagTTL < 0 {
		add("--cache-max-bytes and --cache-tag-ttl must not be negative")
	}
	if c.FallbackAfter < 1 {
		add("--fallback-after must be at least 1")
	}
	if c.ProbeInterval < 0 || c.FallbackTimeout <= 0 {
		add("--probe-interval must not be negative (0 turns probes off) and --fallback-timeout must be positive")
	}
	if c.MaxPackument < 64<<10 {
		add("--max-packument-bytes must be at least 65536")
	}
	if c.HeaderTimeout <= 0 || c.IdleTimeout <= 0 || c.BodyTimeout <= 0 || c.StallTimeout <= 0 {
		add("--header-timeout, --body-timeout, --idle-timeout and --stall-timeout must be positive")
	}
	if d := c.DefaultDomain; d != "" && d != "none" {
		if _, err := manifest.HostKey(d); err != nil {
			add("--default-domain: %v", err)
		}
	}
	c.Analytics.validate(add)
	if c.HasStore() {
		c.Control.validate(add)
	}
	c.TLS.validate(add, c.HasStore(), c.Listen)
	return errors.Join(errs...)
}

package route

import (
	"strings"
	"testing"

	"portico/internal/gateway/docker/dockertest"
	"portico/internal/gateway/npm/npmtest"
	"portico/internal/gateway/python/pythontest"
	"portico/internal/manifest"
)

// testOptions are complete options for every rule kind (routetest's,
// which this package's own tests cannot import).
func testOptions(t testing.TB) Options {
	t.Helper()
	return Options{Docker: dockertest.Options(t), Python: pythontest.Options(t), NPM: npmtest.Options(t)}
}

// TestRequiredOptions: a rule whose kind needs a dependency the options
// lack does not compile, and the error names the missing field; rules
// of kinds that need nothing compile with none.
func TestRequiredOptions(t *testing.T) {
	rules := map[string]string{
		"docker": `{"type":"docker-v1","domain":"cr.test","package-id":"d","repository-name":"acme/a","registry":"ghcr.io"}`,
		"python": `{"type":"python-index-v1","domain":"py.test","package-name":"acme-*","package-id":"p"}`,
		"npm":    `{"type":"npm-v1","domain":"npm.test","package-name":"a","package-id":"n"}`,
		"file":   `{"type":"file-v1","domain":"get.test","incoming-path":"/x","outgoing-url":"https://a.test/x","package-id":"f"}`,
	}
	compile := func(kind string, opts Options) error {
		m, err := manifest.Decode("m.json", []byte(`{"rules":[`+rules[kind]+`]}`))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Compile(m, opts)
		return err
	}
	full := testOptions(t)
	for _, kind := range []string{"docker", "python", "npm", "file"} {
		if err := compile(kind, full); err != nil {
			t.Errorf("%s rule with complete options: %v", kind, err)
		}
	}
	if err := full.Validate(); err != nil {
		t.Errorf("complete options: Validate() = %v", err)
	}
	if err := compile("file", Options{}); err != nil {
		t.Errorf("file rule without options: %v", err)
	}
	for _, c := range []struct {
		kind  string
		unset func(*Options)
		want  string
	}{
		{"docker", func(o *Options) { o.Docker.Proxy = nil }, "docker: Options.Proxy is required"},
		{"docker", func(o *Options) { o.Docker.Signer = nil }, "docker: Options.Signer is required"},
		{"docker", func(o *Options) { o.Docker.Authorize = nil }, "docker: Options.Authorize is required"},
		{"docker", func(o *Options) { o.Docker.Logger = nil }, "docker: Options.Logger is required"},
		{"python", func(o *Options) { o.Python.Cache = nil }, "python: Options.Cache is required"},
		{"npm", func(o *Options) { o.NPM.Cache = nil }, "npm: Options.Cache is required"},
		{"npm", func(o *Options) { o.NPM.Client = nil }, "npm: Options.Client is required"},
		{"npm", func(o *Options) { o.NPM.Logger = nil }, "npm: Options.Logger is required"},
	} {
		opts := testOptions(t)
		c.unset(&opts)
		err := compile(c.kind, opts)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "domain ") {
			t.Errorf("%s rule, %s unset: compile error %v, want one naming the domain and %q", c.kind, c.want, err, c.want)
		}
		if err := opts.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s unset: Validate() = %v, want %q", c.want, err, c.want)
		}
		// The other kinds do not need it.
		for _, other := range []string{"docker", "python", "npm", "file"} {
			if other == c.kind {
				continue
			}
			if err := compile(other, opts); err != nil {
				t.Errorf("%s rule with %s unset: %v", other, c.want, err)
			}
		}
	}
}

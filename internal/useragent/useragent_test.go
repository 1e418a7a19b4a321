package useragent

import (
	"strings"
	"testing"
	"unicode/utf8"

	"portico/internal/event"
)

// cases are user agents as the clients send them.
var cases = []struct {
	name string
	ua   string
	want event.Client
}{
	// Container engines and tools.
	{"docker engine", `docker/27.3.1 go/go1.22.7 git-commit/41ca978 kernel/6.8.0-1015-azure os/linux arch/amd64 UpstreamClient(Docker-Client/27.3.1 \(linux\))`,
		event.Client{Name: "docker", Version: "27.3.1", OS: "linux", Arch: "amd64", Runtime: "go/1.22.7"}},
	{"docker desktop on a mac", `docker/27.2.0 go/go1.21.13 git-commit/3ab5c7d kernel/6.10.4-linuxkit os/linux arch/arm64 UpstreamClient(Docker-Client/27.2.0 \(darwin\))`,
		event.Client{Name: "docker", Version: "27.2.0", OS: "linux", Arch: "arm64", Runtime: "go/1.21.13"}},
	{"docker 20", `docker/20.10.21 go/go1.18.7 git-commit/3056208 kernel/5.15.0-1023-aws os/linux arch/amd64 UpstreamClient(Docker-Client/20.10.21 \(linux\))`,
		event.Client{Name: "docker", Version: "20.10.21", OS: "linux", Arch: "amd64", Runtime: "go/1.18.7"}},
	{"containerd", "containerd/v1.7.22", event.Client{Name: "containerd", Version: "1.7.22"}},
	{"containerd 2", "containerd/v2.0.0", event.Client{Name: "containerd", Version: "2.0.0"}},
	{"containerd in k3s", "containerd/v1.6.19-k3s1", event.Client{Name: "containerd", Version: "1.6.19-k3s1"}},
	{"cri-o", "cri-o/1.31.1 go/go1.22.5 os/linux arch/amd64",
		event.Client{Name: "cri-o", Version: "1.31.1", OS: "linux", Arch: "amd64", Runtime: "go/1.22.5"}},
	{"podman", "containers/5.32.2 (github.com/containers/image)", event.Client{Name: "podman", Version: "5.32.2"}},
	{"buildkit", "buildkit/v0.16", event.Client{Name: "buildkit", Version: "0.16"}},
	{"skopeo", "skopeo/1.16.1", event.Client{Name: "skopeo", Version: "1.16.1"}},
	{"crane", "crane/v0.20.2 go-containerregistry/v0.20.2", event.Client{Name: "crane", Version: "0.20.2"}},
	{"go-containerregistry", "go-containerregistry/v0.20.2", event.Client{Name: "go-containerregistry", Version: "0.20.2"}},
	{"ko", "ko/v0.16.0 go-containerregistry/v0.20.2", event.Client{Name: "go-containerregistry", Version: "0.20.2"}},
	{"kubelet", "kubelet/v1.31.1 (linux/amd64) kubernetes/948afe5",
		event.Client{Name: "kubelet", Version: "1.31.1", OS: "linux", Arch: "amd64"}},

	// Python installers.
	{"pip on linux", `pip/24.2 {"ci":null,"cpu":"x86_64","distro":{"id":"jammy","libc":{"lib":"glibc","version":"2.35"},"name":"Ubuntu","version":"22.04"},"implementation":{"name":"CPython","version":"3.12.3"},"installer":{"name":"pip","version":"24.2"},"openssl_version":"OpenSSL 3.0.2 15 Mar 2022","python":"3.12.3","rustc_version":"1.79.0","setuptools_version":"70.0.0","system":{"name":"Linux","release":"6.5.0-1025-azure"}}`,
		event.Client{Name: "pip", Version: "24.2", OS: "linux", Arch: "amd64", Runtime: "cpython/3.12.3"}},
	{"pip in CI on a mac", `pip/23.3.1 {"ci":true,"cpu":"arm64","distro":{"name":"macOS","version":"14.1.1"},"implementation":{"name":"CPython","version":"3.11.6"},"installer":{"name":"pip","version":"23.3.1"},"openssl_version":"OpenSSL 3.1.4 24 Oct 2023","python":"3.11.6","setuptools_version":"68.2.2","system":{"name":"Darwin","release":"23.1.0"}}`,
		event.Client{Name: "pip", Version: "23.3.1", OS: "darwin", Arch: "arm64", Runtime: "cpython/3.11.6", CI: true}},
	{"pip on windows", `pip/24.0 {"ci":null,"cpu":"AMD64","implementation":{"name":"CPython","version":"3.12.2"},"installer":{"name":"pip","version":"24.0"},"openssl_version":"OpenSSL 3.0.13 30 Jan 2024","python":"3.12.2","setuptools_version":"69.1.1","system":{"name":"Windows","release":"10"}}`,
		event.Client{Name: "pip", Version: "24.0", OS: "windows", Arch: "amd64", Runtime: "cpython/3.12.2"}},
	{"pip on pypy", `pip/24.2 {"ci":null,"cpu":"aarch64","implementation":{"name":"PyPy","version":"7.3.17"},"installer":{"name":"pip","version":"24.2"},"python":"3.10.14","system":{"name":"Linux","release":"6.1.0-25-arm64"}}`,
		event.Client{Name: "pip", Version: "24.2", OS: "linux", Arch: "arm64", Runtime: "pypy/7.3.17"}},
	// pipenv runs pip's own code, so it sends pip's user agent.
	{"pipenv", `pip/24.2 {"ci":null,"cpu":"x86_64","implementation":{"name":"CPython","version":"3.12.5"},"installer":{"name":"pip","version":"24.2"},"python":"3.12.5","setuptools_version":"74.1.2","system":{"name":"Linux","release":"6.8.0-41-generic"}}`,
		event.Client{Name: "pip", Version: "24.2", OS: "linux", Arch: "amd64", Runtime: "cpython/3.12.5"}},
	{"pipenv with user data", `pip/24.2 {"ci":null,"cpu":"x86_64","implementation":{"name":"CPython","version":"3.12.5"},"installer":{"name":"pip","version":"24.2"},"python":"3.12.5","system":{"name":"Linux","release":"6.8.0-41-generic"},"user_data":"pipenv/2024.0.2"}`,
		event.Client{Name: "pipenv", Version: "2024.0.2", OS: "linux", Arch: "amd64", Runtime: "cpython/3.12.5"}},
	{"uv in CI", `uv/0.4.18 {"installer":{"name":"uv","version":"0.4.18"},"python":"3.12.6","implementation":{"name":"CPython","version":"3.12.6"},"distro":{"name":"Ubuntu","version":"24.04","id":"noble","libc":{"lib":"glibc","version":"2.39"}},"system":{"name":"Linux","release":"6.8.0-1014-azure"},"cpu":"x86_64","openssl_version":null,"setuptools_version":null,"rustc_version":null,"ci":true}`,
		event.Client{Name: "uv", Version: "0.4.18", OS: "linux", Arch: "amd64", Runtime: "cpython/3.12.6", CI: true}},
	{"uv without data", "uv/0.4.18", event.Client{Name: "uv", Version: "0.4.18"}},
	{"poetry", "poetry/1.8.3 CPython/3.12.4 Linux/6.5.0-1025-azure",
		event.Client{Name: "poetry", Version: "1.8.3", OS: "linux", Runtime: "cpython/3.12.4"}},
	{"poetry on a mac", "poetry/1.8.4 CPython/3.11.9 Darwin/23.6.0",
		event.Client{Name: "poetry", Version: "1.8.4", OS: "darwin", Runtime: "cpython/3.11.9"}},

	// JavaScript package managers.
	{"npm", "npm/10.8.2 node/v20.17.0 linux x64 workspaces/false",
		event.Client{Name: "npm", Version: "10.8.2", OS: "linux", Arch: "amd64", Runtime: "node/20.17.0"}},
	{"npm in CI", "npm/10.8.2 node/v22.9.0 darwin arm64 workspaces/false ci/github-actions",
		event.Client{Name: "npm", Version: "10.8.2", OS: "darwin", Arch: "arm64", Runtime: "node/22.9.0", CI: true}},
	{"npm on windows", "npm/10.5.0 node/v20.12.2 win32 x64 workspaces/false",
		event.Client{Name: "npm", Version: "10.5.0", OS: "windows", Arch: "amd64", Runtime: "node/20.12.2"}},
	{"yarn classic", "yarn/1.22.22 npm/? node/v20.17.0 linux x64",
		event.Client{Name: "yarn", Version: "1.22.22", OS: "linux", Arch: "amd64", Runtime: "node/20.17.0"}},
	{"yarn berry", "yarn/4.5.0 npm/? node/v22.9.0 darwin arm64",
		event.Client{Name: "yarn", Version: "4.5.0", OS: "darwin", Arch: "arm64", Runtime: "node/22.9.0"}},
	{"pnpm", "pnpm/9.12.0 npm/? node/v20.17.0 linux x64",
		event.Client{Name: "pnpm", Version: "9.12.0", OS: "linux", Arch: "amd64", Runtime: "node/20.17.0"}},
	{"bun install", "bun/1.1.29 npm/? node/v22.6.0 linux x64",
		event.Client{Name: "bun", Version: "1.1.29", OS: "linux", Arch: "amd64", Runtime: "node/22.6.0"}},
	{"bun fetch", "Bun/1.1.29", event.Client{Name: "bun", Version: "1.1.29"}},

	// Generic HTTP clients.
	{"curl", "curl/8.5.0", event.Client{Name: "curl", Version: "8.5.0"}},
	{"wget", "Wget/1.21.4", event.Client{Name: "wget", Version: "1.21.4"}},
	{"wget2", "wget2/2.1.0", event.Client{Name: "wget", Version: "2.1.0"}},
	{"go", "Go-http-client/1.1", event.Client{Name: "go-http-client"}},
	{"go http/2", "Go-http-client/2.0", event.Client{Name: "go-http-client"}},
	{"python requests", "python-requests/2.32.3", event.Client{Name: "python-requests", Version: "2.32.3"}},

	// Browsers.
	{"chrome", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36",
		event.Client{Name: "chrome", Version: "129.0.0.0", OS: "windows", Arch: "amd64"}},
	{"edge", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36 Edg/129.0.0.0",
		event.Client{Name: "edge", Version: "129.0.0.0", OS: "windows", Arch: "amd64"}},
	{"firefox", "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0",
		event.Client{Name: "firefox", Version: "131.0", OS: "linux", Arch: "amd64"}},
	{"safari", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15",
		event.Client{Name: "safari", Version: "18.0", OS: "darwin"}},
	{"chrome on android", "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Mobile Safari/537.36",
		event.Client{Name: "chrome", Version: "129.0.0.0", OS: "android"}},
	{"safari on iphone", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1",
		event.Client{Name: "safari", Version: "18.0", OS: "ios"}},
	{"opera", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36 OPR/114.0.0.0",
		event.Client{Name: "opera", Version: "114.0.0.0", OS: "windows", Arch: "amd64"}},

	// Robots.
	{"googlebot", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
		event.Client{Name: "googlebot", Version: "2.1", Bot: true}},
	{"bingbot", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
		event.Client{Name: "bingbot", Version: "2.0", Bot: true}},
	{"gptbot", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
		event.Client{Name: "gptbot", Version: "1.2", Bot: true}},
	{"facebook", "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
		event.Client{Name: "facebookexternalhit", Version: "1.1", Bot: true}},
	{"dependabot", "dependabot-core/0.281.0 excon/0.111.0 ruby/3.3.5 (x86_64-linux) (+https://github.com/dependabot/dependabot-core)",
		event.Client{Name: "dependabot-core", Version: "0.281.0", Bot: true}},
	{"uptimerobot", "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
		event.Client{Name: "uptimerobot", Version: "2.0", Bot: true}},
	{"yandex", "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
		event.Client{Name: "yandexbot", Version: "3.0", Bot: true}},

	// Nothing to go on.
	{"empty", "", event.Client{}},
	{"spaces", "   ", event.Client{}},
	{"bare word", "something", event.Client{Name: "something"}},
}

func TestParse(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Parse(tc.ua); got != tc.want {
				t.Errorf("Parse(%q)\n got %+v\nwant %+v", tc.ua, got, tc.want)
			}
		})
	}
}

func TestParseHostile(t *testing.T) {
	tests := []string{
		"((((((((",
		"docker/ os/ arch/",
		"pip/1.0 {not json",
		"npm/1 node/",
		"a/\x00\x01b c\td",
		strings.Repeat("x/", 10000),
		"Mozilla/5.0 (" + strings.Repeat("(", 3000),
		"kubelet/v1 (",
		`pip/1 {"installer":{"name":"` + strings.Repeat("n", 500) + `","version":"1"}}`,
	}
	for _, ua := range tests {
		c := Parse(ua)
		checkFields(t, ua, c)
	}
}

func checkFields(t *testing.T, ua string, c event.Client) {
	t.Helper()
	for _, f := range []string{c.Name, c.Version, c.OS, c.Arch, c.Runtime} {
		if len(f) > maxField+len("cpython/") || !utf8.ValidString(f) || strings.ContainsFunc(f, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			t.Fatalf("Parse(%.80q) gave field %q: too long, or not printable", ua, f)
		}
	}
}

// FuzzParse checks that Parse accepts anything, returns short printable
// fields, and gives the same answer twice.
func FuzzParse(f *testing.F) {
	for _, tc := range cases {
		f.Add(tc.ua)
	}
	f.Fuzz(func(t *testing.T, ua string) {
		c := Parse(ua)
		checkFields(t, ua, c)
		if again := Parse(ua); again != c {
			t.Fatalf("Parse(%q) is not deterministic: %+v then %+v", ua, c, again)
		}
		if c.Name == "" && c.Version != "" {
			t.Fatalf("Parse(%q) = %+v: a version without a name", ua, c)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	for _, name := range []string{"docker engine", "pip on linux", "npm", "chrome", "googlebot"} {
		var ua string
		for _, tc := range cases {
			if tc.name == name {
				ua = tc.ua
			}
		}
		b.Run(strings.ReplaceAll(name, " ", "-"), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Parse(ua)
			}
		})
	}
}

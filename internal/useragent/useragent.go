// Package useragent tells which software made a request from its
// User-Agent header: the client's name and version, its operating system
// and architecture, the language runtime, whether it says it runs in CI,
// and whether it is a robot.
//
// It knows the forms that the clients of software registries send:
// container engines and tools (docker, containerd, cri-o, podman, buildkit,
// skopeo, crane, kubelet), Python installers (pip and uv with their JSON
// "linehaul" data, poetry, pipenv), JavaScript package managers (npm, yarn,
// pnpm, bun), generic HTTP clients (curl, wget, Go's net/http) and
// browsers. Anything else is reported by its first product token.
//
// Parse runs on the event pipeline's worker, not on the request path, but
// it is called for every event, so it uses no regular expressions and
// allocates little: most fields are substrings of the header or constants.
package useragent

import (
	"encoding/json"
	"strings"

	"portico/internal/event"
)

// maxLen bounds the part of a header that is looked at. Real user agents
// are far shorter; pip's JSON is the longest at about 500 bytes.
const maxLen = 2048

// maxField bounds every field of the result.
const maxField = 64

// Parse returns what ua says about the client that sent it. An empty or
// unrecognized header gives a Client with empty fields; Parse never fails.
func Parse(ua string) event.Client {
	if len(ua) > maxLen {
		ua = ua[:maxLen]
	}
	ua = strings.TrimSpace(ua)
	if ua == "" {
		return event.Client{}
	}
	toks := tokenize(ua)
	c := parse(ua, toks)
	c.Name = clip(c.Name)
	c.Version = clip(c.Version)
	c.OS = clip(c.OS)
	c.Arch = clip(c.Arch)
	c.Runtime = clip(c.Runtime)
	if c.Name == "" {
		c.Version = ""
	}
	return c
}

func parse(ua string, toks []token) event.Client {
	if c, ok := parseBot(ua, toks); ok {
		return c
	}
	if len(toks) == 0 {
		return event.Client{}
	}
	first := toks[0]
	name := strings.ToLower(first.name)
	switch {
	case name == "docker":
		return engine("docker", first.version, toks)
	case name == "cri-o":
		return engine("cri-o", first.version, toks)
	case name == "containerd":
		return engine("containerd", first.version, toks)
	case name == "buildkit":
		return engine("buildkit", first.version, toks)
	case name == "containers" && strings.Contains(ua, "github.com/containers/image"):
		// podman, buildah and other tools built on containers/image send
		// the library's name and version, not their own.
		return event.Client{Name: "podman", Version: trimV(first.version)}
	case name == "skopeo":
		return engine("skopeo", first.version, toks)
	case name == "crane" || name == "gcrane" || name == "go-containerregistry":
		return engine(name, first.version, toks)
	case name == "kubelet" || name == "kubectl":
		return kube(name, first.version, toks)
	case first.json != "":
		// pip, uv and other installers following pip's "linehaul" format:
		// "pip/24.2 {json}".
		return linehaul(name, first.version, first.json)
	case name == "pip" || name == "uv" || name == "pipenv" || name == "pdm" || name == "hatch":
		return event.Client{Name: name, Version: first.version, Runtime: pythonRuntime(toks)}
	case name == "poetry":
		return poetry(first.version, toks)
	case name == "npm" || name == "yarn" || name == "pnpm" || name == "bun":
		return nodeManager(name, first.version, toks)
	case name == "curl":
		return event.Client{Name: "curl", Version: first.version}
	case name == "wget" || name == "wget2":
		return event.Client{Name: "wget", Version: first.version}
	case name == "go-http-client":
		// The version is that of HTTP (1.1 or 2.0), not of the program.
		return event.Client{Name: "go-http-client"}
	case name == "mozilla" || name == "opera":
		if c, ok := browser(toks); ok {
			return c
		}
	}
	if c, ok := findTool(toks); ok {
		return c
	}
	if first.name == "" {
		return event.Client{}
	}
	return event.Client{Name: name, Version: trimV(first.version)}
}

// findTool looks past the first token for a client that identifies itself
// later in the header, such as pipenv or a tool embedding go-containerregistry.
func findTool(toks []token) (event.Client, bool) {
	for _, t := range toks[1:] {
		switch n := strings.ToLower(t.name); n {
		case "pipenv", "uv", "pip", "poetry":
			return event.Client{Name: n, Version: t.version, Runtime: pythonRuntime(toks)}, true
		case "go-containerregistry":
			return event.Client{Name: n, Version: trimV(t.version)}, true
		}
	}
	return event.Client{}, false
}

// engine reads the "name/version go/… os/… arch/…" form that docker,
// cri-o and several Go tools send.
func engine(name, version string, toks []token) event.Client {
	c := event.Client{Name: name, Version: trimV(version)}
	for _, t := range toks[1:] {
		switch t.name {
		case "go":
			c.Runtime = "go/" + strings.TrimPrefix(t.version, "go")
		case "os":
			c.OS = normOS(t.version)
		case "arch":
			c.Arch = normArch(t.version)
		}
	}
	return c
}

// kube reads Kubernetes components: "kubelet/v1.31.1 (linux/amd64) kubernetes/948afe5".
func kube(name, version string, toks []token) event.Client {
	c := event.Client{Name: name, Version: trimV(version)}
	for _, t := range toks[1:] {
		if t.comment != "" {
			if os, arch, ok := strings.Cut(t.comment, "/"); ok {
				c.OS, c.Arch = normOS(os), normArch(arch)
			}
			break
		}
	}
	return c
}

// linehaul decodes the JSON that pip and uv append to their user agent.
func linehaul(name, version, data string) event.Client {
	c := event.Client{Name: name, Version: version}
	var l struct {
		Installer *struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"installer"`
		Implementation *struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"implementation"`
		Python string `json:"python"`
		System *struct {
			Name string `json:"name"`
		} `json:"system"`
		CPU      string `json:"cpu"`
		CI       *bool  `json:"ci"`
		UserData any    `json:"user_data"`
	}
	if json.Unmarshal([]byte(data), &l) != nil {
		return c
	}
	if l.Installer != nil && l.Installer.Name != "" {
		c.Name = strings.ToLower(l.Installer.Name)
		c.Version = l.Installer.Version
	}
	if ud, ok := l.UserData.(string); ok && strings.Contains(strings.ToLower(ud), "pipenv") {
		c.Name = "pipenv"
		if _, v, ok := strings.Cut(ud, "/"); ok && validVersion(v) {
			c.Version = v
		} else {
			c.Version = ""
		}
	}
	switch {
	case l.Implementation != nil && l.Implementation.Name != "":
		c.Runtime = strings.ToLower(l.Implementation.Name) + "/" + l.Implementation.Version
	case l.Python != "":
		c.Runtime = "python/" + l.Python
	}
	if l.System != nil {
		c.OS = normOS(l.System.Name)
	}
	c.Arch = normArch(l.CPU)
	c.CI = l.CI != nil && *l.CI
	return c
}

// poetry reads "poetry/1.8.3 CPython/3.12.4 Linux/6.5.0-1025-azure".
func poetry(version string, toks []token) event.Client {
	c := event.Client{Name: "poetry", Version: version, Runtime: pythonRuntime(toks)}
	for _, t := range toks[1:] {
		if os := normOS(t.name); knownOS(os) {
			c.OS = os
			break
		}
	}
	return c
}

func pythonRuntime(toks []token) string {
	for _, t := range toks {
		switch n := strings.ToLower(t.name); n {
		case "cpython", "pypy", "python":
			if t.version != "" {
				return n + "/" + t.version
			}
		}
	}
	return ""
}

// nodeManager reads "npm/10.8.2 node/v20.17.0 linux x64 workspaces/false
// ci/github-actions" and the same form from yarn, pnpm and bun.
func nodeManager(name, version string, toks []token) event.Client {
	c := event.Client{Name: name, Version: version}
	if name == "bun" && len(toks) == 1 {
		return c
	}
	for i, t := range toks[1:] {
		switch {
		case t.name == "node" && t.version != "":
			c.Runtime = "node/" + trimV(t.version)
			// The platform and architecture follow node's version as
			// bare words.
			rest := toks[i+2:]
			if len(rest) > 0 && rest[0].version == "" && rest[0].comment == "" {
				c.OS = normOS(rest[0].name)
				if len(rest) > 1 && rest[1].version == "" && rest[1].comment == "" {
					c.Arch = normArch(rest[1].name)
				}
			}
		case t.name == "ci" && t.version != "" && t.version != "false":
			c.CI = true
		}
	}
	return c
}

// browser identifies the common browsers from their Mozilla-style user
// agents. Order matters: Edge and Opera also claim Chrome, and Chrome also
// claims Safari.
func browser(toks []token) (event.Client, bool) {
	var c event.Client
	var chrome, firefox, safari, version string
	for _, t := range toks {
		switch t.name {
		case "Edg", "Edge", "EdgA", "EdgiOS":
			c.Name, c.Version = "edge", t.version
		case "OPR", "Opera":
			if c.Name == "" {
				c.Name, c.Version = "opera", t.version
			}
		case "Chrome", "CriOS":
			chrome = t.version
		case "Firefox", "FxiOS":
			firefox = t.version
		case "Safari":
			safari = t.version
		case "Version":
			version = t.version
		}
	}
	switch {
	case c.Name != "":
	case chrome != "":
		c.Name, c.Version = "chrome", chrome
	case firefox != "":
		c.Name, c.Version = "firefox", firefox
	case safari != "" && version != "":
		c.Name, c.Version = "safari", version
	default:
		return c, false
	}
	for _, t := range toks {
		if t.comment != "" {
			c.OS, c.Arch = platform(t.comment)
			break
		}
	}
	return c, true
}

// platform reads the first comment of a browser user agent:
// "Windows NT 10.0; Win64; x64", "X11; Linux x86_64", "Macintosh; Intel Mac OS X 10_15_7".
func platform(comment string) (os, arch string) {
	low := strings.ToLower(comment)
	switch {
	case strings.Contains(low, "android"):
		os = "android"
	case strings.Contains(low, "iphone"), strings.Contains(low, "ipad"):
		os = "ios"
	case strings.Contains(low, "windows"):
		os = "windows"
	case strings.Contains(low, "mac os x"), strings.Contains(low, "macintosh"):
		// Every Mac says "Intel", Apple silicon too, so the architecture
		// is unknown.
		return "darwin", ""
	case strings.Contains(low, "cros"):
		os = "chromeos"
	case strings.Contains(low, "linux"):
		os = "linux"
	case strings.Contains(low, "freebsd"):
		os = "freebsd"
	}
	switch {
	case strings.Contains(low, "x86_64"), strings.Contains(low, "x64"), strings.Contains(low, "win64"), strings.Contains(low, "amd64"):
		arch = "amd64"
	case strings.Contains(low, "aarch64"), strings.Contains(low, "arm64"):
		arch = "arm64"
	case strings.Contains(low, "i686"), strings.Contains(low, "i386"):
		arch = "386"
	}
	return os, arch
}

// parseBot recognizes crawlers, link previewers, uptime monitors and
// dependency bots. Their name is the product that gave them away.
func parseBot(ua string, toks []token) (event.Client, bool) {
	low := strings.ToLower(ua)
	if !containsAny(low, botMarkers) && !strings.Contains(low, "+http") {
		return event.Client{}, false
	}
	// Robots often hide their name in a comment:
	// "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)".
	var products []token
	for _, t := range toks {
		if t.comment == "" {
			products = append(products, t)
			continue
		}
		for part := range strings.SplitSeq(t.comment, ";") {
			if part = strings.TrimSpace(part); part != "" && !strings.HasPrefix(part, "+") {
				name, version, _ := strings.Cut(part, "/")
				if !strings.Contains(name, " ") {
					products = append(products, token{name: name, version: version})
				}
			}
		}
	}
	c := event.Client{Bot: true}
	var fallback *token
	for i := range products {
		t := &products[i]
		n := strings.ToLower(t.name)
		if n == "" || n == "mozilla" || n == "compatible" || n == "applewebkit" || n == "khtml, like gecko" {
			continue
		}
		if containsAny(n+"/", botMarkers) || containsAny(n, botNameMarkers) {
			c.Name, c.Version = n, t.version
			return c, true
		}
		if fallback == nil {
			fallback = t
		}
	}
	if fallback != nil {
		c.Name, c.Version = strings.ToLower(fallback.name), fallback.version
	}
	return c, true
}

// botMarkers are substrings of user agents that only robots send.
var botMarkers = []string{
	"bot/", "bot;", "bot)", "bot ", "-bot", "_bot",
	"crawler", "spider", "slurp", "facebookexternalhit", "embedly",
	"uptimerobot", "pingdom", "statuscake", "headlesschrome", "lighthouse",
	"dependabot", "renovate", "archive.org_bot", "ia_archiver",
}

// botNameMarkers are substrings of robots' product names.
var botNameMarkers = []string{"bot", "crawler", "spider", "slurp", "facebookexternalhit", "archiver", "headlesschrome", "lighthouse", "renovate", "pingdom", "statuscake"}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// normOS maps the spellings of operating systems to Go's names.
func normOS(s string) string {
	switch strings.ToLower(s) {
	case "":
		return ""
	case "linux":
		return "linux"
	case "darwin", "macos", "mac", "osx":
		return "darwin"
	case "windows", "win32", "windows_nt", "win64":
		return "windows"
	case "freebsd":
		return "freebsd"
	case "openbsd":
		return "openbsd"
	case "netbsd":
		return "netbsd"
	case "android":
		return "android"
	case "ios":
		return "ios"
	case "sunos", "solaris":
		return "solaris"
	case "aix":
		return "aix"
	}
	return strings.ToLower(s)
}

func knownOS(s string) bool {
	switch s {
	case "linux", "darwin", "windows", "freebsd", "openbsd", "netbsd", "android", "ios", "solaris", "aix":
		return true
	}
	return false
}

// normArch maps the spellings of architectures to Go's names.
func normArch(s string) string {
	switch strings.ToLower(s) {
	case "":
		return ""
	case "x86_64", "x64", "amd64", "win64":
		return "amd64"
	case "aarch64", "arm64", "armv8", "armv8l":
		return "arm64"
	case "i386", "i486", "i586", "i686", "x86", "ia32", "386":
		return "386"
	case "arm", "armv6l", "armv7l", "armv7", "armhf":
		return "arm"
	case "ppc64le", "ppc64el":
		return "ppc64le"
	case "s390x":
		return "s390x"
	case "riscv64":
		return "riscv64"
	}
	return strings.ToLower(s)
}

// trimV drops the "v" that some tools put before a version number.
func trimV(v string) string {
	if len(v) > 1 && (v[0] == 'v' || v[0] == 'V') && v[1] >= '0' && v[1] <= '9' {
		return v[1:]
	}
	return v
}

func validVersion(v string) bool {
	if v == "" || len(v) > maxField {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c == '"' || c >= 0x7f {
			return false
		}
	}
	return true
}

// clip bounds a field and keeps only printable ASCII, so that a hostile
// header cannot put arbitrary text into the analytics dimensions.
func clip(s string) string {
	if len(s) > maxField {
		s = s[:maxField]
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			return cleaned(s)
		}
	}
	return s
}

func cleaned(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c > ' ' && c < 0x7f {
			b.WriteByte(c)
		}
	}
	return b.String()
}

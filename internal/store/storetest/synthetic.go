package storetest

import (
	"fmt"
	"math/rand/v2"
	"time"

	"portico/internal/event"
)

// Synthetic makes realistic-looking events for benchmarks: a few popular
// packages and many small ones, recent versions downloaded most, clients
// that match each kind, networks that belong to a country, a share of
// cloud, CI and robot traffic, and downloaders that come back. Events
// come in time order, as a gateway produces them.
type Synthetic struct {
	rng      *rand.Rand
	ids      *event.IDSource
	from     time.Time
	step     time.Duration // between events
	n        int64
	packages []synthPackage
	pkgZipf  *rand.Zipf
	verZipf  *rand.Zipf
	orgZipf  *rand.Zipf
	orgs     []synthOrg
	clients  int
}

type synthPackage struct {
	id, artifact string
	kind         event.Kind
}

type synthOrg struct {
	name    string
	asn     uint32
	country string
	network event.Network
}

var synthCountries = []string{"US", "DE", "CN", "IN", "GB", "FR", "JP", "BR", "CA", "NL", "KR", "RU", "AU", "SE", "PL",
	"ES", "IT", "CH", "SG", "IE", "FI", "NO", "DK", "AT", "BE", "CZ", "IL", "TW", "HK", "MX", "AR", "ZA", "TR", "UA", "VN",
	"ID", "TH", "MY", "PH", "NZ", "PT", "RO", "HU", "GR", "CL", "CO", "EG", "NG", "KE", "PK", "BD", "SA", "AE", "LT", "LV",
	"EE", "SK", "SI", "HR", "BG"}

// NewSynthetic returns a generator of total events spread evenly over
// [from, from+span), for packages packages (at least 4).
func NewSynthetic(seed uint64, from time.Time, span time.Duration, packages, total int) *Synthetic {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s := &Synthetic{rng: rng, ids: event.NewIDSource(), from: from, step: span / time.Duration(max(total, 1)), clients: 300_000}
	kinds := []event.Kind{event.KindDocker, event.KindPython, event.KindNPM, event.KindFile}
	for i := range max(packages, 4) {
		s.packages = append(s.packages, synthPackage{id: fmt.Sprintf("pkg-%03d", i), artifact: fmt.Sprintf("acme/tool-%03d", i), kind: kinds[i%len(kinds)]})
	}
	for i := range 1000 {
		o := synthOrg{name: fmt.Sprintf("AS%d Network %d", 64512+i, i), asn: uint32(64512 + i)}
		// Networks mostly serve one country, the big ones the big ones.
		o.country = synthCountries[min(int(rng.ExpFloat64()*8), len(synthCountries)-1)]
		switch {
		case i%9 == 0:
			o.network = event.NetworkCloud
		case i == 7:
			o.network = event.NetworkCI
		}
		s.orgs = append(s.orgs, o)
	}
	s.pkgZipf = rand.NewZipf(rng, 1.2, 2, uint64(len(s.packages)-1))
	s.verZipf = rand.NewZipf(rng, 1.3, 1, 39)
	s.orgZipf = rand.NewZipf(rng, 1.1, 4, uint64(len(s.orgs)-1))
	return s
}

var synthClients = map[event.Kind][]event.Client{
	event.KindDocker: {{Name: "docker", Version: "27.3.1"}, {Name: "containerd", Version: "1.7.22"}, {Name: "docker", Version: "26.1.4"},
		{Name: "podman", Version: "5.32.2"}, {Name: "cri-o", Version: "1.31.1"}, {Name: "crane", Version: "0.20.2"}},
	event.KindPython: {{Name: "pip", Version: "24.2", Runtime: "cpython/3.12.3"}, {Name: "uv", Version: "0.4.18", Runtime: "cpython/3.12.6"},
		{Name: "pip", Version: "23.3.1", Runtime: "cpython/3.11.6"}, {Name: "poetry", Version: "1.8.3", Runtime: "cpython/3.12.4"}},
	event.KindNPM: {{Name: "npm", Version: "10.8.2", Runtime: "node/20.17.0"}, {Name: "pnpm", Version: "9.12.0", Runtime: "node/20.17.0"},
		{Name: "yarn", Version: "1.22.22", Runtime: "node/20.17.0"}, {Name: "bun", Version: "1.1.29"}},
	event.KindFile: {{Name: "curl", Version: "8.5.0"}, {Name: "wget", Version: "1.21.4"}, {Name: "chrome", Version: "129.0.0.0"},
		{Name: "go-http-client"}, {Name: "firefox", Version: "131.0"}},
}

var synthOS = []string{"linux", "linux", "linux", "linux", "linux", "linux", "linux", "darwin", "darwin", "windows"}

// Next returns the next event, with an id for its time.
func (s *Synthetic) Next() event.Event {
	rng := s.rng
	p := s.packages[s.pkgZipf.Uint64()]
	at := s.from.Add(time.Duration(s.n) * s.step).Truncate(time.Millisecond)
	s.n++
	version := fmt.Sprintf("1.%d.0", 39-int(s.verZipf.Uint64()))
	cs := synthClients[p.kind]
	c := cs[min(int(rng.ExpFloat64()*1.2), len(cs)-1)]
	arch := "amd64"
	if rng.IntN(5) == 0 {
		arch = "arm64"
	}
	c.OS, c.Arch = synthOS[rng.IntN(len(synthOS))], arch
	o := s.orgs[s.orgZipf.Uint64()]
	country := o.country
	if rng.IntN(20) == 0 {
		country = synthCountries[rng.IntN(len(synthCountries))]
	}
	c.CI = rng.IntN(12) == 0
	c.Bot = rng.IntN(50) == 0
	if c.Bot {
		c = event.Client{Name: "googlebot", Version: "2.1", Bot: true}
	}
	e := event.Event{
		ID: s.ids.New(at), Time: at, Kind: p.kind, PackageID: p.id, Domain: "dl.example.com", Method: "GET",
		Status: 307, Outcome: event.OutcomeRedirect, Client: c,
		Origin: event.Origin{Country: country, ASN: o.asn, Org: o.name, Network: o.network},
		// Downloaders come back: a pool of clients, the first ones busiest.
		Downloader: uint64(rng.ExpFloat64()*float64(s.clients)/4) + 1,
	}
	switch {
	case c.CI || o.network == event.NetworkCI:
		e.Source = event.SourceCI
	case o.network == event.NetworkCloud:
		e.Source = event.SourceCloud
	default:
		e.Source = event.SourceHuman
	}
	switch p.kind {
	case event.KindDocker:
		e.Path = "/v2/" + p.artifact + "/manifests/" + version
		e.Docker = event.Docker{Image: p.artifact, Reference: version, Object: "manifest", Backend: "ghcr.io", Pull: true}
	case event.KindPython:
		e.Path = "/simple/" + p.id + "/" + p.id + "-" + version + ".tar.gz"
		e.Python = event.Python{Object: "file", Project: p.id, Version: version, FileName: p.id + "-" + version + ".tar.gz"}
	case event.KindNPM:
		e.Path = "/" + p.id + "/-/" + p.id + "-" + version + ".tgz"
		e.NPM = event.NPM{Object: "tarball", Package: p.id, Version: version}
	case event.KindFile:
		e.Path = "/" + version + "/" + c.OS + "/" + p.id + ".tar.gz"
		e.Variables = []event.Var{{Name: "version", Value: version}, {Name: "os", Value: c.OS}}
	}
	return e
}

// Batch fills b with the next events.
func (s *Synthetic) Batch(b []event.Event) []event.Event {
	for i := range b {
		b[i] = s.Next()
	}
	return b
}

// Top returns the most downloaded package and one of each kind, for
// queries.
func (s *Synthetic) Top() (top string, byKind map[event.Kind]string) {
	byKind = map[event.Kind]string{}
	for _, p := range s.packages {
		if _, ok := byKind[p.kind]; !ok {
			byKind[p.kind] = p.id
		}
	}
	return s.packages[0].id, byKind
}

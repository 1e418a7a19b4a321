// Package event defines the analytics event that every counted request
// produces, version 1 of the schema in docs/events.md, and its JSON
// encoding, which is both the stdout contract and the store's row format.
//
// An Event is a plain value: the gateway fills it on the request path
// without allocating beyond what the request already holds, and hands it
// to the pipeline by value. The client address and user agent travel in
// unexported-to-JSON fields so that enrichment can use them; the encoder
// never writes them, and the pipeline clears the address before any sink
// sees the event.
package event

import (
	"net/netip"
	"time"
)

// Version is the schema version written as "v".
const Version = 1

// Kind says which kind of rule produced an event.
type Kind uint8

// The kinds of events. KindNone is the zero value and never emitted.
const (
	KindNone Kind = iota
	KindDocker
	KindPython
	KindNPM
	KindFile
	KindTelemetry
	KindPixel
	KindScarfJS
	numKinds
)

var kindNames = [numKinds]string{"none", "docker", "python", "npm", "file", "telemetry", "pixel", "scarf-js"}

func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "unknown"
}

// MarshalText implements encoding.TextMarshaler.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Kinds lists every kind that events can have, for metrics and queries.
func Kinds() []Kind {
	return []Kind{KindNone, KindDocker, KindPython, KindNPM, KindFile, KindTelemetry, KindPixel, KindScarfJS}
}

// Outcome says how a request was answered.
type Outcome uint8

// The outcomes of a request.
const (
	OutcomeNone        Outcome = iota
	OutcomeRedirect            // 3xx to the backend
	OutcomeProxy               // streamed from the backend
	OutcomeServe               // answered by the gateway itself (index page, pixel, 200)
	OutcomeNotModified         // 304
	OutcomeNotFound            // 404
	OutcomeError               // refused or failed (401, 405, 422, 5xx)
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"none", "redirect", "proxy", "serve", "not_modified", "not_found", "error"}

func (o Outcome) String() string {
	if o < numOutcomes {
		return outcomeNames[o]
	}
	return "unknown"
}

// MarshalText implements encoding.TextMarshaler.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// Outcomes lists every outcome, for metrics.
func Outcomes() []Outcome {
	return []Outcome{OutcomeNone, OutcomeRedirect, OutcomeProxy, OutcomeServe, OutcomeNotModified, OutcomeNotFound, OutcomeError}
}

// A Var is one variable captured from the request path.
type Var struct {
	Name  string
	Value string
}

// Docker holds the fields of docker events.
type Docker struct {
	Image     string // repository path as requested, e.g. "library/nginx"
	Reference string // tag or digest; "" for ping and catalog
	Object    string // manifest, blob, tags, referrers, catalog or ping
	MediaType string // of the manifest served, when known
	Digest    string // of the manifest served, when known
	Backend   string // registry host the request went to
	Pull      bool   // a GET of a manifest
}

// Python holds the fields of python events.
type Python struct {
	Object   string // index, project or file
	Project  string
	Version  string
	FileName string
}

// NPM holds the fields of npm events.
type NPM struct {
	Object  string // packument or tarball
	Package string
	Version string
}

// Client describes the software that made the request, from its user agent.
type Client struct {
	Name    string // canonical client name: docker, pip, npm, curl, chrome, …
	Version string
	OS      string // linux, darwin, windows, …
	Arch    string // amd64, arm64, …
	Runtime string // language runtime, as "name/version": "cpython/3.12.3", "node/20.17.0"
	CI      bool   // the client says it runs in continuous integration
	Bot     bool   // a crawler, monitor or other robot rather than an install
}

// Network classifies the network a request came from, by its operator.
type Network uint8

// The kinds of networks. NetworkNone means an ordinary access network, or
// that nothing is known.
const (
	NetworkNone  Network = iota
	NetworkCloud         // a cloud or hosting provider
	NetworkCI            // a continuous-integration service
	numNetworks
)

var networkNames = [numNetworks]string{"", "cloud", "ci"}

func (n Network) String() string {
	if n < numNetworks {
		return networkNames[n]
	}
	return "unknown"
}

// Origin is the coarse network location of the client. It is derived from
// the address, which itself is never recorded.
type Origin struct {
	Country string // ISO 3166-1 alpha-2
	Region  string // ISO 3166-2 subdivision code without the country, e.g. "BE"
	ASN     uint32
	Org     string
	Network Network
}

// Source says who is behind a request, for breakdowns: a person's machine,
// a server in a cloud, or a CI job. Bots are a dimension of their own
// (Client.Bot).
type Source uint8

// The sources. SourceNone is the zero value of events that were not
// enriched.
const (
	SourceNone Source = iota
	SourceHuman
	SourceCloud
	SourceCI
	numSources
)

var sourceNames = [numSources]string{"", "human", "cloud", "ci"}

func (s Source) String() string {
	if s < numSources {
		return sourceNames[s]
	}
	return "unknown"
}

// ParseSource returns the source named s ("human", "cloud" or "ci").
func ParseSource(s string) (Source, bool) {
	for i, name := range sourceNames {
		if name == s && Source(i) != SourceNone {
			return Source(i), true
		}
	}
	return SourceNone, false
}

// An Event records one counted request.
type Event struct {
	ID        ID
	Time      time.Time
	Kind      Kind
	PackageID string // "" is written as null
	RuleID    string // "" is written as null
	Domain    string
	// RequestedHost is the host the client asked for, when the default
	// domain answered for a host that no domain names; "" otherwise.
	RequestedHost string
	Method        string
	Path          string // raw path, without the query
	Status        int
	Outcome       Outcome

	Variables []Var  // file events
	Body      []byte // file events: one JSON object from the request body, compact
	Payload   []byte // telemetry and scarf-js events: the JSON value sent, compact
	PixelID   string // pixel events
	Subject   string // scarf-js events: the package named in the path, if any

	Docker Docker
	Python Python
	NPM    NPM
	Client Client
	Origin Origin
	Source Source

	// Downloader identifies the client among the downloaders of one
	// package on one day without revealing who it is: a keyed hash of the
	// address, the user agent and the package, whose key changes every
	// day and is then forgotten. 0 when unknown.
	Downloader uint64

	// UserAgent and ClientAddr are inputs to enrichment. They are never
	// encoded, and the pipeline zeroes ClientAddr before any sink runs.
	UserAgent  string
	ClientAddr netip.Addr

	// Encoded, when set, is the event's JSON as AppendJSON writes it,
	// without a newline: the pipeline encodes each event once, after
	// enrichment, for every sink and the store, and the spool keeps the
	// line it read back. It is never encoded itself, and whoever changes
	// the event must clear it.
	Encoded []byte
}

// AppendEncoded appends the event's JSON: Encoded when it is set, else
// what AppendJSON writes.
func (e *Event) AppendEncoded(b []byte) []byte {
	if e.Encoded != nil {
		return append(b, e.Encoded...)
	}
	return e.AppendJSON(b)
}

package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// timeLayout is RFC 3339 in UTC with milliseconds, as in "2026-11-22T23:00:00.123Z".
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// AppendJSON appends e as one JSON object (no trailing newline). It never
// writes the client address or the raw user agent. Empty strings of
// optional fields are written as null so that every event of a kind has
// the same keys.
func (e *Event) AppendJSON(b []byte) []byte {
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, Version, 10)
	b = append(b, `,"id":"`...)
	b = e.ID.AppendText(b)
	b = append(b, `","time":"`...)
	b = appendTime(b, e.Time)
	b = append(b, `","kind":"`...)
	b = append(b, e.Kind.String()...)
	b = append(b, `","package_id":`...)
	b = appendNullable(b, e.PackageID)
	b = append(b, `,"rule_id":`...)
	b = appendNullable(b, e.RuleID)
	b = append(b, `,"domain":`...)
	b = appendString(b, e.Domain)
	b = append(b, `,"requested_host":`...)
	b = appendNullable(b, e.RequestedHost)
	b = append(b, `,"method":`...)
	b = appendString(b, e.Method)
	b = append(b, `,"path":`...)
	b = appendString(b, e.Path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, `,"outcome":"`...)
	b = append(b, e.Outcome.String()...)
	b = append(b, '"')

	switch e.Kind {
	case KindFile:
		b = append(b, `,"variables":{`...)
		for i, v := range e.Variables {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, v.Name)
			b = append(b, ':')
			b = appendString(b, v.Value)
		}
		b = append(b, `},"body":`...)
		b = appendRaw(b, e.Body)
	case KindTelemetry:
		b = append(b, `,"payload":`...)
		b = appendRaw(b, e.Payload)
	case KindScarfJS:
		b = append(b, `,"payload":`...)
		b = appendRaw(b, e.Payload)
		b = append(b, `,"scarf_js":{"package":`...)
		b = appendNullable(b, e.Subject)
		b = append(b, '}')
	case KindPixel:
		b = append(b, `,"pixel_id":`...)
		b = appendNullable(b, e.PixelID)
	case KindDocker:
		d := &e.Docker
		b = append(b, `,"docker":{"image":`...)
		b = appendNullable(b, d.Image)
		b = append(b, `,"reference":`...)
		b = appendNullable(b, d.Reference)
		b = append(b, `,"object":`...)
		b = appendNullable(b, d.Object)
		b = append(b, `,"media_type":`...)
		b = appendNullable(b, d.MediaType)
		b = append(b, `,"digest":`...)
		b = appendNullable(b, d.Digest)
		b = append(b, `,"backend":`...)
		b = appendNullable(b, d.Backend)
		b = append(b, `,"pull":`...)
		b = strconv.AppendBool(b, d.Pull)
		b = append(b, '}')
	case KindPython:
		p := &e.Python
		b = append(b, `,"python":{"object":`...)
		b = appendNullable(b, p.Object)
		b = append(b, `,"project":`...)
		b = appendNullable(b, p.Project)
		b = append(b, `,"version":`...)
		b = appendNullable(b, p.Version)
		b = append(b, `,"file_name":`...)
		b = appendNullable(b, p.FileName)
		b = append(b, '}')
	case KindNPM:
		n := &e.NPM
		b = append(b, `,"npm":{"object":`...)
		b = appendNullable(b, n.Object)
		b = append(b, `,"package":`...)
		b = appendNullable(b, n.Package)
		b = append(b, `,"version":`...)
		b = appendNullable(b, n.Version)
		b = append(b, '}')
	}

	c := &e.Client
	b = append(b, `,"client":{"name":`...)
	b = appendNullable(b, c.Name)
	b = append(b, `,"version":`...)
	b = appendNullable(b, c.Version)
	b = append(b, `,"os":`...)
	b = appendNullable(b, c.OS)
	b = append(b, `,"arch":`...)
	b = appendNullable(b, c.Arch)
	b = append(b, `,"runtime":`...)
	b = appendNullable(b, c.Runtime)
	b = append(b, `,"ci":`...)
	b = strconv.AppendBool(b, c.CI)
	b = append(b, `,"bot":`...)
	b = strconv.AppendBool(b, c.Bot)
	o := &e.Origin
	b = append(b, `},"origin":{"country":`...)
	b = appendNullable(b, o.Country)
	b = append(b, `,"region":`...)
	b = appendNullable(b, o.Region)
	b = append(b, `,"asn":`...)
	if o.ASN == 0 {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendUint(b, uint64(o.ASN), 10)
	}
	b = append(b, `,"org":`...)
	b = appendNullable(b, o.Org)
	b = append(b, `,"network":`...)
	b = appendNullable(b, o.Network.String())
	b = append(b, `},"source":`...)
	b = appendNullable(b, e.Source.String())
	b = append(b, `,"downloader":`...)
	if e.Downloader == 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		b = appendHex64(b, e.Downloader)
		b = append(b, '"')
	}
	return append(b, '}')
}

// appendHex64 appends v as 16 lower-case hex digits.
func appendHex64(b []byte, v uint64) []byte {
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, hexDigits[(v>>uint(shift))&15])
	}
	return b
}

// MarshalJSON implements json.Marshaler.
func (e Event) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil), nil }

// appendRaw appends a JSON value that was validated and compacted when the
// request was read; an empty value is written as null.
func appendRaw(b, raw []byte) []byte {
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	return append(b, raw...)
}

func appendNullable(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendString(b, s)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// and U+2028/U+2029 are escaped so a line stays one line for every reader.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&15])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// wire is the decoded form of an encoded event, for readers of the stream
// (the spool, the store, tests).
type wire struct {
	V         int             `json:"v"`
	ID        ID              `json:"id"`
	Time      time.Time       `json:"time"`
	Kind      string          `json:"kind"`
	PackageID *string         `json:"package_id"`
	RuleID    *string         `json:"rule_id"`
	Domain    string          `json:"domain"`
	Requested *string         `json:"requested_host"`
	Method    string          `json:"method"`
	Path      string          `json:"path"`
	Status    int             `json:"status"`
	Outcome   string          `json:"outcome"`
	Variables json.RawMessage `json:"variables"`
	Body      json.RawMessage `json:"body"`
	Payload   json.RawMessage `json:"payload"`
	PixelID   string          `json:"pixel_id"`
	ScarfJS   *struct {
		Package *string `json:"package"`
	} `json:"scarf_js"`
	Docker *struct {
		Image     *string `json:"image"`
		Reference *string `json:"reference"`
		Object    *string `json:"object"`
		MediaType *string `json:"media_type"`
		Digest    *string `json:"digest"`
		Backend   *string `json:"backend"`
		Pull      bool    `json:"pull"`
	} `json:"docker"`
	Python *struct {
		Object   *string `json:"object"`
		Project  *string `json:"project"`
		Version  *string `json:"version"`
		FileName *string `json:"file_name"`
	} `json:"python"`
	NPM *struct {
		Object  *string `json:"object"`
		Package *string `json:"package"`
		Version *string `json:"version"`
	} `json:"npm"`
	Client struct {
		Name    *string `json:"name"`
		Version *string `json:"version"`
		OS      *string `json:"os"`
		Arch    *string `json:"arch"`
		Runtime *string `json:"runtime"`
		CI      bool    `json:"ci"`
		Bot     bool    `json:"bot"`
	} `json:"client"`
	Origin struct {
		Country *string `json:"country"`
		Region  *string `json:"region"`
		ASN     *uint32 `json:"asn"`
		Org     *string `json:"org"`
		Network *string `json:"network"`
	} `json:"origin"`
	Source     *string `json:"source"`
	Downloader *string `json:"downloader"`
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// Parse decodes one event written by AppendJSON.
func Parse(line []byte) (Event, error) {
	var w wire
	if err := json.Unmarshal(line, &w); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	if w.V != Version {
		return Event{}, fmt.Errorf("decode event: unsupported version %d", w.V)
	}
	e := Event{
		ID: w.ID, Time: w.Time, PackageID: str(w.PackageID), RuleID: str(w.RuleID),
		Domain: w.Domain, RequestedHost: str(w.Requested), Method: w.Method, Path: w.Path, Status: w.Status, PixelID: w.PixelID,
	}
	var ok bool
	if e.Kind, ok = parseKind(w.Kind); !ok {
		return Event{}, fmt.Errorf("decode event: unknown kind %q", w.Kind)
	}
	if e.Outcome, ok = parseOutcome(w.Outcome); !ok {
		return Event{}, fmt.Errorf("decode event: unknown outcome %q", w.Outcome)
	}
	if len(w.Variables) > 0 && !bytes.Equal(w.Variables, []byte("null")) {
		vars, err := decodeVars(w.Variables)
		if err != nil {
			return Event{}, err
		}
		e.Variables = vars
	}
	e.Body = compactOrNil(w.Body)
	e.Payload = compactOrNil(w.Payload)
	if w.ScarfJS != nil {
		e.Subject = str(w.ScarfJS.Package)
	}
	if d := w.Docker; d != nil {
		e.Docker = Docker{Image: str(d.Image), Reference: str(d.Reference), Object: str(d.Object),
			MediaType: str(d.MediaType), Digest: str(d.Digest), Backend: str(d.Backend), Pull: d.Pull}
	}
	if p := w.Python; p != nil {
		e.Python = Python{Object: str(p.Object), Project: str(p.Project), Version: str(p.Version), FileName: str(p.FileName)}
	}
	if n := w.NPM; n != nil {
		e.NPM = NPM{Object: str(n.Object), Package: str(n.Package), Version: str(n.Version)}
	}
	e.Client = Client{Name: str(w.Client.Name), Version: str(w.Client.Version), OS: str(w.Client.OS), Arch: str(w.Client.Arch),
		Runtime: str(w.Client.Runtime), CI: w.Client.CI, Bot: w.Client.Bot}
	e.Origin = Origin{Country: str(w.Origin.Country), Region: str(w.Origin.Region), Org: str(w.Origin.Org)}
	if w.Origin.ASN != nil {
		e.Origin.ASN = *w.Origin.ASN
	}
	if n := str(w.Origin.Network); n != "" {
		if e.Origin.Network, ok = parseNetwork(n); !ok {
			return Event{}, fmt.Errorf("decode event: unknown origin network %q", n)
		}
	}
	if s := str(w.Source); s != "" {
		if e.Source, ok = ParseSource(s); !ok {
			return Event{}, fmt.Errorf("decode event: unknown source %q", s)
		}
	}
	if d := str(w.Downloader); d != "" {
		v, err := strconv.ParseUint(d, 16, 64)
		if err != nil || len(d) != 16 {
			return Event{}, fmt.Errorf("decode event: downloader %q is not 16 hex digits", d)
		}
		e.Downloader = v
	}
	return e, nil
}

func parseNetwork(s string) (Network, bool) {
	for i, name := range networkNames {
		if name == s && Network(i) != NetworkNone {
			return Network(i), true
		}
	}
	return NetworkNone, false
}

// decodeVars keeps the order in which the object lists its keys.
func decodeVars(raw []byte) ([]Var, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("decode event variables: %w", err)
	}
	var vars []Var
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("decode event variables: %w", err)
		}
		var v string
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("decode event variables: %w", err)
		}
		vars = append(vars, Var{Name: k.(string), Value: v})
	}
	return vars, nil
}

func compactOrNil(raw json.RawMessage) []byte {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return nil
	}
	return buf.Bytes()
}

// ParseKind returns the kind named s, as written in events ("docker",
// "scarf-js", …).
func ParseKind(s string) (Kind, bool) { return parseKind(s) }

func parseKind(s string) (Kind, bool) {
	for k, name := range kindNames {
		if name == s && Kind(k) != KindNone {
			return Kind(k), true
		}
	}
	return KindNone, false
}

func parseOutcome(s string) (Outcome, bool) {
	for o, name := range outcomeNames {
		if name == s && Outcome(o) != OutcomeNone {
			return Outcome(o), true
		}
	}
	return OutcomeNone, false
}

// appendTime appends t in timeLayout. Every event carries a time, and the
// generic formatter, which interprets its layout on each call, was a
// visible share of the worker's time.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, timeLayout)
	}
	hour, minute, sec := t.Clock()
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond()/1e6, 3)
	return append(b, 'Z')
}

// appendDigits appends the n (at most 4) low decimal digits of v,
// zero-padded.
func appendDigits(b []byte, v, n int) []byte {
	b = append(b, "0000"[:n]...)
	for i := len(b) - 1; i >= len(b)-n; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
}

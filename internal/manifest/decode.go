package manifest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

// Load reads and decodes the manifest at path.
func Load(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Decode(path, data)
}

// Decode parses and validates a manifest. file names the manifest in
// errors. On failure the error joins one *Error per problem (see Errors),
// rule by rule and then the document's own, and no manifest is returned:
// a manifest is used whole or not at all. A UTF-8 byte order mark at the
// start is ignored; repeated keys and text that is not valid UTF-8 are
// problems wherever they are.
func Decode(file string, data []byte) (*Manifest, error) {
	d := &decoder{file: file, domains: map[string]string{}, origins: map[string]error{}}
	m, err := d.document(data)
	if err != nil {
		return nil, err
	}
	if len(d.errs) > 0 {
		// Rule by rule, then the document's own problems; within each,
		// in the order found.
		slices.SortStableFunc(d.errs, func(a, b error) int { return cmp.Compare(errorRank(a), errorRank(b)) })
		return nil, errors.Join(d.errs...)
	}
	return m, nil
}

func errorRank(err error) int {
	if e, ok := err.(*Error); ok && e.Rule >= 0 {
		return e.Rule
	}
	return math.MaxInt
}

// document validates the whole input once, then walks it without copying:
// each rule's fields are sub-slices of data.
func (d *decoder) document(data []byte) (*Manifest, error) {
	// Some editors start UTF-8 files with a byte order mark. RFC 8259
	// lets a parser ignore it, and it carries no meaning in UTF-8, so it
	// is skipped. Other encodings are named rather than reported as a
	// stray character.
	data = bytes.TrimPrefix(data, utf8BOM)
	if enc := wideEncoding(data); enc != "" {
		return nil, &Error{File: d.file, Rule: -1, Err: fmt.Errorf("the manifest is encoded as %s; save it as UTF-8", enc)}
	}
	if !json.Valid(data) {
		var v any
		return nil, d.documentError(data, json.Unmarshal(data, &v))
	}
	top, ok := members(data, nil)
	if !ok {
		var v any
		_ = json.Unmarshal(data, &v)
		return nil, &Error{File: d.file, Rule: -1, Err: fmt.Errorf("the manifest must be a JSON object, not %s", jsonKind(data))}
	}
	if enc := d.strictScan(data); len(enc) > 0 {
		return nil, errors.Join(enc...)
	}
	m := &Manifest{}
	seenRules := false
	var unknown []string
	// A set, not a search of the members before each one: a document
	// of many top-level keys must not make decoding quadratic.
	seen := make(map[string]struct{}, len(top))
	for _, mb := range top {
		d.work++
		if _, dup := seen[mb.key]; dup {
			continue // reported by strictScan
		}
		seen[mb.key] = struct{}{}
		switch {
		case mb.key == "rules":
			seenRules = true
			if jsonKind(mb.raw) != "array" {
				d.errorf(-1, "", "rules", "must be an array, not %s", jsonKind(mb.raw))
				continue
			}
			var scratch []member
			elements(mb.raw, func(i int, raw json.RawMessage) {
				var r Rule
				r, scratch = d.rule(i, raw, scratch[:0])
				if r != nil {
					m.Rules = append(m.Rules, r)
				}
			})
		case strings.HasPrefix(mb.key, "x-"):
			if m.Extensions == nil {
				m.Extensions = make(map[string]json.RawMessage)
			}
			m.Extensions[mb.key] = clone(mb.raw)
		default:
			unknown = append(unknown, mb.key)
		}
	}
	if !seenRules {
		d.errorf(-1, "", "rules", "missing")
	}
	d.checkDockerPush(m.Rules)
	slices.Sort(unknown)
	for _, k := range unknown {
		d.errorf(-1, "", k, "unknown field; extension fields must start with \"x-\"")
	}
	return m, nil
}

// clone copies raw out of the manifest's bytes, for values kept after
// decoding.
func clone(raw json.RawMessage) json.RawMessage { return append(json.RawMessage(nil), raw...) }

type decoder struct {
	file string
	errs []error
	// domains holds each domain name once: a manifest's rules share a
	// few, and a gateway keeps every rule. Decode sets it up; a rule
	// decoded alone has nothing to share it with.
	domains map[string]string
	// origins holds the answers of checkOutgoing, set up as domains is.
	origins map[string]error
	// work counts the key comparisons and lookups decoding makes: the
	// part of its work that is not one pass over the bytes. Tests use it
	// to check that decoding stays linear in the document.
	work int
}

// domain returns s, or the equal string an earlier rule had.
func (d *decoder) domain(s string) string {
	if d.domains == nil {
		return s
	}
	if have, ok := d.domains[s]; ok {
		return have
	}
	d.domains[s] = s
	return s
}

func (d *decoder) errorf(rule int, typ, field, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Rule: rule, Type: typ, Field: field, Err: fmt.Errorf(format, args...)})
}

func (d *decoder) fail(rule int, typ, field string, err error) {
	d.errs = append(d.errs, &Error{File: d.file, Rule: rule, Type: typ, Field: field, Err: err})
}

var utf8BOM = []byte("\xef\xbb\xbf")

// wideEncoding names the encoding of data when it is UTF-16 or UTF-32, by
// its byte order mark or by the zero bytes that ASCII text has in those
// encodings (a JSON document starts with an ASCII character), or returns
// "".
func wideEncoding(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte{0, 0, 0xfe, 0xff}), bytes.HasPrefix(data, []byte{0xff, 0xfe, 0, 0}):
		return "UTF-32 (it starts with a UTF-32 byte order mark)"
	case bytes.HasPrefix(data, []byte{0xfe, 0xff}), bytes.HasPrefix(data, []byte{0xff, 0xfe}):
		return "UTF-16 (it starts with a UTF-16 byte order mark)"
	case len(data) >= 2 && (data[0] == 0 || data[1] == 0):
		return "UTF-16 or UTF-32 (it has zero bytes between its characters)"
	}
	return ""
}

// documentError turns a JSON error about the whole file into an *Error
// with a line and column.
func (d *decoder) documentError(data []byte, err error) error {
	if _, ok := errors.AsType[*json.SyntaxError](err); ok {
		// A streaming decoder reports offsets within the value it was
		// reading; validating the whole input gives the absolute one.
		var v any
		if abs, ok := errors.AsType[*json.SyntaxError](json.Unmarshal(data, &v)); ok {
			err = abs
		}
	}
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		line, col := position(data, se.Offset)
		msg := se.Error()
		if se.Offset > 0 && bytes.HasPrefix(data[se.Offset-1:], utf8BOM) {
			msg = "unexpected byte order mark (U+FEFF): one may only start the file"
		}
		return &Error{File: d.file, Rule: -1, Err: fmt.Errorf("line %d, column %d: %s", line, col, msg)}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		line, col := position(data, int64(len(data)))
		return &Error{File: d.file, Rule: -1, Err: fmt.Errorf("line %d, column %d: unexpected end of input", line, col)}
	}
	return &Error{File: d.file, Rule: -1, Err: err}
}

// position returns the 1-based line and column (in runes) of the byte at
// offset, or of the end of data when offset is past it.
func position(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line = bytes.Count(before, []byte{'\n'}) + 1
	start := bytes.LastIndexByte(before, '\n') + 1
	col = utf8.RuneCount(before[start:])
	if col == 0 {
		col = 1
	}
	return line, col
}

func (d *decoder) rule(i int, raw json.RawMessage, scratch []member) (Rule, []member) {
	if jsonKind(raw) != "object" {
		d.errorf(i, "", "", "a rule must be a JSON object, not %s", jsonKind(raw))
		return nil, scratch
	}
	ms, ok := members(raw, scratch)
	if !ok {
		d.errorf(i, "", "", "cannot read the rule")
		return nil, ms
	}
	return d.ruleOf(i, ms), ms
}

// ruleOf decodes rule i from its members.
func (d *decoder) ruleOf(i int, ms []member) Rule {
	f := &fields{d: d, rule: i, m: ms}
	typ, ok := f.typeField()
	if !ok {
		return nil
	}
	f.typ = typ
	errsBefore := len(d.errs)
	var r Rule
	switch typ {
	case TypeDockerV1:
		r = f.dockerV1()
	case TypeDockerV2:
		r = f.dockerV2()
	case TypeFileV1:
		r = f.fileV1()
	case TypeFileV2:
		r = f.fileV2()
	case TypePythonV1:
		r = f.pythonV1()
	case TypePythonIndexV1:
		r = f.pythonIndex()
	case TypeNPMV1:
		r = f.npm()
	case TypeCatchAllV1:
		r = f.catchAll()
	case TypeTelemetryV1:
		r = f.telemetry()
	case TypePixelV1:
		r = &Pixel{Base: f.base(), PackageID: f.optStr("package-id")}
	case TypeScarfJSV1:
		r = &ScarfJS{Base: f.base(), PackageID: f.optStr("package-id")}
	}
	f.rest(r.Common())
	if len(d.errs) > errsBefore {
		return nil
	}
	return r
}

var knownTypes = []string{
	TypeDockerV1, TypeDockerV2, TypeFileV1, TypeFileV2, TypePythonV1,
	TypeCatchAllV1, TypeTelemetryV1, TypePixelV1, TypeScarfJSV1,
	TypePythonIndexV1, TypeNPMV1,
}

// fields reads the fields of one rule, recording a problem for each field
// that is missing, of the wrong type or invalid. Fields are removed from m
// as they are read, so that what is left at the end is unknown.
type fields struct {
	d    *decoder
	rule int
	typ  string
	m    []member // the rule's fields not read yet
}

func (f *fields) errorf(field, format string, args ...any) {
	f.d.errorf(f.rule, f.typ, field, format, args...)
}

func (f *fields) fail(field string, err error) { f.d.fail(f.rule, f.typ, field, err) }

func (f *fields) typeField() (string, bool) {
	raw, ok := f.take("type")
	if !ok {
		f.errorf("type", "missing")
		return "", false
	}
	s, ok := jsonString(raw)
	if !ok {
		f.errorf("type", "must be a string, not %s", jsonKind(raw))
		return "", false
	}
	if !slices.Contains(knownTypes, s) {
		f.errorf("type", "unknown rule type %q (known types: %s)", s, strings.Join(knownTypes, ", "))
		return "", false
	}
	return s, true
}

// take returns the value of field name and marks it read. (Repeated keys
// are reported separately; the last value is returned.)
func (f *fields) take(name string) (json.RawMessage, bool) {
	f.d.work += len(f.m)
	var raw json.RawMessage
	found := false
	kept := f.m[:0]
	for _, mb := range f.m {
		if mb.key == name {
			raw, found = mb.raw, true
			continue
		}
		kept = append(kept, mb)
	}
	f.m = kept
	return raw, found
}

// str reads a required string.
func (f *fields) str(name string) string {
	s, _ := f.strOK(name)
	return s
}

// strOK reads a required string and reports whether it was one.
func (f *fields) strOK(name string) (string, bool) {
	raw, ok := f.take(name)
	if !ok {
		f.errorf(name, "missing")
		return "", false
	}
	s, ok := jsonString(raw)
	if !ok {
		f.errorf(name, "must be a string, not %s", jsonKind(raw))
		return "", false
	}
	return s, true
}

// nonEmpty reads a required string that must not be empty.
func (f *fields) nonEmpty(name string) string {
	s, ok := f.strOK(name)
	if ok && s == "" {
		f.errorf(name, "must not be empty")
	}
	return s
}

// optStr reads an optional string; absent and null give "".
func (f *fields) optStr(name string) string {
	s, _ := f.optStrPresent(name)
	return s
}

func (f *fields) optStrPresent(name string) (string, bool) {
	raw, ok := f.take(name)
	if !ok || jsonKind(raw) == "null" {
		return "", false
	}
	s, ok := jsonString(raw)
	if !ok {
		f.errorf(name, "must be a string or null, not %s", jsonKind(raw))
		return "", false
	}
	return s, true
}

// nullableStr reads a field that must be present but may be null.
func (f *fields) nullableStr(name string) (s string, isNull bool) {
	raw, ok := f.take(name)
	if !ok {
		f.errorf(name, "missing (write null for none)")
		return "", true
	}
	if jsonKind(raw) == "null" {
		return "", true
	}
	s, ok = jsonString(raw)
	if !ok {
		f.errorf(name, "must be a string or null, not %s", jsonKind(raw))
		return "", true
	}
	return s, false
}

// optBool reads an optional boolean; absent and null give nil.
func (f *fields) optBool(name string) *bool {
	raw, ok := f.take(name)
	if !ok || jsonKind(raw) == "null" {
		return nil
	}
	var b bool
	if jsonKind(raw) != "boolean" || json.Unmarshal(raw, &b) != nil {
		f.errorf(name, "must be true, false or null, not %s", jsonKind(raw))
		return nil
	}
	return &b
}

// optStrList reads an optional array of strings; absent and null give
// nil, [] gives an empty non-nil list. check, if set, validates each
// string, and problems are reported with the element's index.
func (f *fields) optStrList(name string, check func(string) error) []string {
	raw, ok := f.take(name)
	if !ok || jsonKind(raw) == "null" {
		return nil
	}
	if jsonKind(raw) != "array" {
		f.errorf(name, "must be an array of strings or null, not %s", jsonKind(raw))
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		f.errorf(name, "%v", err)
		return nil
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		s, ok := jsonString(it)
		if !ok {
			f.errorf(fmt.Sprintf("%s[%d]", name, i), "must be a string, not %s", jsonKind(it))
			continue
		}
		if check != nil {
			if err := check(s); err != nil {
				f.fail(fmt.Sprintf("%s[%d]", name, i), err)
				continue
			}
		}
		out = append(out, s)
	}
	return out
}

func (f *fields) base() Base {
	b := Base{Index: f.rule}
	var ok bool
	if b.Domain, ok = f.strOK("domain"); ok {
		b.Domain = f.d.domain(b.Domain)
		host, err := HostKey(b.Domain)
		if err != nil {
			f.fail("domain", err)
		}
		b.Host = host
	}
	if v := f.optBool("https-only"); v != nil {
		b.HTTPSOnly = *v
	}
	return b
}

// rest records the extension fields and reports the unknown ones.
func (f *fields) rest(b *Base) {
	slices.SortStableFunc(f.m, func(a, b member) int { return strings.Compare(a.key, b.key) })
	for _, mb := range f.m {
		if strings.HasPrefix(mb.key, "x-") {
			if b.Extensions == nil {
				b.Extensions = make(map[string]json.RawMessage)
			}
			b.Extensions[mb.key] = clone(mb.raw)
			continue
		}
		f.errorf(mb.key, "unknown field; extension fields must start with \"x-\"")
	}
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// jsonKind names the JSON type of a valid JSON value.
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// jsonString decodes a JSON string. Strings without escapes, the common
// case in manifests, are sliced out without the full decoder.
func jsonString(raw json.RawMessage) (string, bool) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		inner := raw[1 : len(raw)-1]
		if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
			return string(inner), true
		}
	}
	var s string
	if jsonKind(raw) != "string" || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

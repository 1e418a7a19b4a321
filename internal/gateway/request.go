package gateway

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"portico/internal/query"
	"portico/internal/uritemplate"
)

// A Request is the view of an HTTP request that rules match against. The
// router builds one per request from a pool; rules must not keep it, or
// anything from its scratch space, after Serve returns.
type Request struct {
	HTTP *http.Request
	// Domain is the normalized host that selected the rules.
	Domain string
	// Host is the canonical host the client addressed (route.ParseHost):
	// Domain, unless the default domain answered for a host no domain
	// names. Port is the port it gave, 0 for none, and HTTPS whether it
	// reached the gateway over TLS, directly or through a trusted proxy.
	// URLs that lead back to the gateway are built from these, never from
	// header text (AppendOrigin).
	Host  string
	Port  uint16
	HTTPS bool
	// RawPath is the path exactly as the client sent it: percent-escapes
	// are not decoded and dot segments are kept.
	RawPath string
	// RawQuery is the query including its leading '?', or "" when the
	// request target has no '?'.
	RawQuery string
	// BodyTimeout bounds the time to receive a body that a rule reads
	// (see ReadBody); zero means DefaultBodyTimeout.
	BodyTimeout time.Duration

	segs      []string
	segsDone  bool
	items     []query.Item
	itemsDone bool

	// Scratch space that rules may use during Serve to avoid allocating.
	Buf   []byte
	TVars []uritemplate.Var
	Items []query.Item
	Cands []int32
}

var requestPool = sync.Pool{New: func() any {
	return &Request{
		segs:  make([]string, 0, 16),
		items: make([]query.Item, 0, 8),
		Buf:   make([]byte, 0, 512),
		TVars: make([]uritemplate.Var, 0, 8),
		Items: make([]query.Item, 0, 16),
		Cands: make([]int32, 0, 16),
	}
}}

// NewRequest returns a Request for r from the pool; release it with Free.
func NewRequest(r *http.Request, domain string) *Request {
	if r.Body == nil {
		// Servers always set a body; requests built in process may not.
		r.Body = http.NoBody
	}
	req := requestPool.Get().(*Request)
	req.HTTP = r
	req.Domain = domain
	req.Host = domain
	req.Port = 0
	req.HTTPS = r.TLS != nil
	req.RawPath, req.RawQuery = SplitTarget(r)
	return req
}

// Free returns req to the pool. req must not be used afterwards.
func (req *Request) Free() {
	if cap(req.Buf) > 64<<10 || cap(req.segs) > 1024 {
		return // let oversized scratch space go instead of pinning it
	}
	req.HTTP = nil
	req.BodyTimeout = 0
	req.segs = req.segs[:0]
	req.segsDone = false
	req.items = req.items[:0]
	req.itemsDone = false
	req.Buf = req.Buf[:0]
	req.TVars = req.TVars[:0]
	req.Items = req.Items[:0]
	req.Cands = req.Cands[:0]
	requestPool.Put(req)
}

// SplitTarget returns the raw path and raw query ("?..." or "") of r's
// request target, exactly as received.
func SplitTarget(r *http.Request) (rawPath, rawQuery string) {
	target := r.RequestURI
	if !strings.HasPrefix(target, "/") {
		// Absolute-form ("http://host/p?q") or a request built in
		// process: fall back to the parsed URL, which keeps the
		// original escaping of the path where it can.
		target = r.URL.EscapedPath()
		if r.URL.ForceQuery || r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
	}
	if i := strings.IndexByte(target, '?'); i >= 0 {
		return target[:i], target[i:]
	}
	return target, ""
}

// AppendOrigin appends the scheme and authority by which the client
// reaches the gateway again: "https://" or "http://", the canonical host
// (an IPv6 address in brackets) and the port the client gave, unless it is
// the scheme's default. The port is kept because Portico often listens on
// a port of its own (8081 by default) that the client must use again; it
// is a number the client itself connected with, so it can lead nowhere
// the request did not already go.
func (req *Request) AppendOrigin(dst []byte) []byte {
	if req.HTTPS {
		dst = append(dst, "https://"...)
	} else {
		dst = append(dst, "http://"...)
	}
	if strings.IndexByte(req.Host, ':') >= 0 {
		dst = append(dst, '[')
		dst = append(dst, req.Host...)
		dst = append(dst, ']')
	} else {
		dst = append(dst, req.Host...)
	}
	if p := req.Port; p != 0 && !(req.HTTPS && p == 443) && !(!req.HTTPS && p == 80) {
		dst = append(dst, ':')
		dst = strconv.AppendUint(dst, uint64(p), 10)
	}
	return dst
}

// Method returns the request method as sent.
func (req *Request) Method() string { return req.HTTP.Method }

// ValidPath reports whether RawPath is valid UTF-8. Template rules decline
// other paths instead of failing the request.
func (req *Request) ValidPath() bool { return utf8.ValidString(req.RawPath) }

// Segments returns the path split on '/' after one leading '/', each
// segment percent-decoded ('+' kept) and invalid UTF-8 replaced by U+FFFD.
// "" and "/" give no segments; a trailing slash gives a final empty
// segment.
func (req *Request) Segments() []string {
	if !req.segsDone {
		req.segs = AppendSegments(req.segs[:0], req.RawPath)
		req.segsDone = true
	}
	return req.segs
}

// FirstSegment returns the raw text of the first path segment, without
// decoding, and whether it needed no decoding (it holds no '%').
func FirstSegment(rawPath string) (seg string, plain bool) {
	p := strings.TrimPrefix(rawPath, "/")
	if i := strings.IndexByte(p, '/'); i >= 0 {
		p = p[:i]
	}
	return p, strings.IndexByte(p, '%') < 0
}

// AppendSegments appends the decoded segments of rawPath to dst.
func AppendSegments(dst []string, rawPath string) []string {
	p := strings.TrimPrefix(rawPath, "/")
	if p == "" {
		return dst
	}
	for {
		i := strings.IndexByte(p, '/')
		if i < 0 {
			return append(dst, DecodeSegment(p))
		}
		dst = append(dst, DecodeSegment(p[:i]))
		p = p[i+1:]
	}
}

// DecodeSegment percent-decodes s, keeping '+' and invalid escapes as
// written, and replaces invalid UTF-8 with U+FFFD.
func DecodeSegment(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		if utf8.ValidString(s) {
			return s
		}
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && query.IsHex(s[i+1]) && query.IsHex(s[i+2]) {
			b = append(b, query.Unhex(s[i+1])<<4|query.Unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, c)
	}
	if !utf8.Valid(b) {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(b)
}

// Query returns the request's query items, parsed as package query does.
func (req *Request) Query() []query.Item {
	if !req.itemsDone {
		req.items = query.AppendParse(req.items[:0], req.RawQuery)
		req.itemsDone = true
	}
	return req.items
}

package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/textproto"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// The lean loop answers the plain requests of a plain HTTP listener, the
// redirects that are most of a gateway's traffic, without net/http's
// server: net/http spends most of a redirect's CPU time on what a
// redirect does not need (a context, a background read and a goroutine
// switch per request, a response of a kilobyte, a copy of the headers).
//
// It takes on a request only when net/http would answer it the same way:
// the request is parsed by net/http's own parser (http.ReadRequest), its
// header fits in the connection's first 4 KiB buffer, it is a GET or a
// HEAD in HTTP/1.1 with no body, no Expect, no Upgrade and one valid Host,
// every header field is valid as net/http's server requires, and the
// listener's Plain function says its answer is a small one (a redirect or
// a not-found: never a proxied stream, never a flush). Anything else,
// bad requests included, goes to net/http with the bytes read so far, and
// the connection stays there for the rest of its life. The limits are
// the server's: the header must come within HeaderTimeout, idle
// connections are closed after IdleTimeout, and a header handed over
// keeps the time it had left.

// leanBufSize is the read buffer of a connection, and so the largest
// request header the lean loop takes on.
const leanBufSize = 4096

// ServeLean makes the listener answer the requests for which plain
// reports true on the lean loop. Call it before Start; it does nothing on
// an HTTPS listener, which keeps net/http (and HTTP/2).
func (s *Server) ServeLean(plain func(*http.Request) bool) {
	if s.tls {
		return
	}
	s.plain = plain
}

// lean is the lean loop of a Server.
type lean struct {
	s        *Server
	handler  http.Handler
	plain    func(*http.Request) bool
	handover *handoverListener

	closing atomic.Bool
	mu      sync.Mutex
	conns   map[*leanConn]struct{}
}

// Connection states, for Shutdown.
const (
	leanIdle int32 = iota // waiting for a request
	leanActive
)

type leanConn struct {
	c     net.Conn
	state atomic.Int32
}

func newLean(s *Server) *lean {
	return &lean{
		s:        s,
		handler:  s.srv.Handler,
		plain:    s.plain,
		handover: &handoverListener{addr: s.ln.Addr(), conns: make(chan net.Conn), done: make(chan struct{})},
		conns:    map[*leanConn]struct{}{},
	}
}

// serve accepts connections until the listener is closed, as
// http.Server.Serve does, with its backoff on temporary errors.
func (l *lean) serve() error {
	var delay time.Duration
	for {
		c, err := l.s.ln.Accept()
		if err != nil {
			if l.closing.Load() {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		lc := &leanConn{c: c}
		l.mu.Lock()
		if l.closing.Load() {
			l.mu.Unlock()
			_ = c.Close()
			continue
		}
		l.conns[lc] = struct{}{}
		l.mu.Unlock()
		go l.serveConn(lc)
	}
}

func (l *lean) forget(lc *leanConn) {
	l.mu.Lock()
	delete(l.conns, lc)
	l.mu.Unlock()
}

// shutdown stops accepting, closes idle connections as they become idle,
// and returns when none is left or ctx ends, when it closes the rest.
func (l *lean) shutdown(ctx context.Context) error {
	l.closing.Store(true)
	_ = l.s.ln.Close()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		l.mu.Lock()
		for lc := range l.conns {
			if lc.state.Load() == leanIdle {
				_ = lc.c.Close()
			}
		}
		n := len(l.conns)
		l.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			l.mu.Lock()
			for lc := range l.conns {
				_ = lc.c.Close()
			}
			l.mu.Unlock()
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func (l *lean) serveConn(lc *leanConn) {
	c := lc.c
	handedOver := false
	defer func() {
		if v := recover(); v != nil && v != http.ErrAbortHandler {
			l.s.log.Error("panic serving connection", "panic", v, "stack", string(debug.Stack()))
		}
		l.forget(lc)
		if !handedOver {
			_ = c.Close()
		}
	}()
	lim := l.s.lim
	br := bufio.NewReaderSize(c, leanBufSize)
	bw := bufio.NewWriterSize(c, leanBufSize)
	w := &leanResponse{header: http.Header{}}
	remote := c.RemoteAddr().String()
	var raw []byte
	first, deadline := true, false
	for {
		var hdrDeadline time.Time
		// Wait for the request's first bytes: a new connection has
		// HeaderTimeout for its whole header, an idle one IdleTimeout
		// until the next request's first four bytes, as net/http waits
		// (fewer before the client closes end the connection quietly).
		if want := 1 + 3*btoi(!first); br.Buffered() < want {
			// Answers wait in bw while more requests are buffered; none
			// waits while the client is.
			if bw.Flush() != nil {
				return
			}
			lc.state.Store(leanIdle)
			if l.closing.Load() {
				return
			}
			switch {
			case first && lim.HeaderTimeout > 0:
				hdrDeadline = time.Now().Add(lim.HeaderTimeout)
				_ = c.SetReadDeadline(hdrDeadline)
				deadline = true
			case !first && lim.IdleTimeout > 0:
				_ = c.SetReadDeadline(time.Now().Add(lim.IdleTimeout))
				deadline = true
			case deadline:
				_ = c.SetReadDeadline(time.Time{})
				deadline = false
			}
			if _, err := br.Peek(want); err != nil {
				return
			}
			lc.state.Store(leanActive)
		}
		first = false
		n := headerLen(peekN(br, br.Buffered()))
		if n < 0 {
			// The header is not all here: it has HeaderTimeout from now
			// (from the connection's start for the first request).
			if hdrDeadline.IsZero() && lim.HeaderTimeout > 0 {
				hdrDeadline = time.Now().Add(lim.HeaderTimeout)
				_ = c.SetReadDeadline(hdrDeadline)
				deadline = true
			}
			if bw.Flush() != nil {
				return
			}
			var err error
			if n, err = readHeader(br); err != nil {
				if errors.Is(err, errHandOver) {
					handedOver = l.handOver(c, bw, br, nil, hdrDeadline)
				}
				// Else a timeout, or the client went away: net/http
				// closes too.
				return
			}
		}
		raw = append(raw[:0], peekN(br, n)...)
		before := br.Buffered()
		req, err := http.ReadRequest(br)
		consumed := before - br.Buffered()
		if consumed > len(raw) {
			// The parser read past the end found here, which no
			// request does; nothing to replay exactly, so end it.
			return
		}
		if err != nil || consumed != len(raw) || !l.takes(req) {
			// net/http answers it, from the start of its header.
			_, _ = br.Discard(len(raw) - consumed)
			handedOver = l.handOver(c, bw, br, raw, hdrDeadline)
			return
		}
		req.RemoteAddr = remote
		w.reset(req)
		l.handler.ServeHTTP(w, req)
		closeAfter := w.finish(bw, req.Close || l.closing.Load())
		if closeAfter || br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return
			}
		}
		if closeAfter {
			if tc, ok := c.(closeWriter); ok {
				// As net/http: a FIN first, so that the client reads the
				// whole response before the connection goes.
				_ = tc.CloseWrite()
			}
			return
		}
	}
}

type closeWriter interface{ CloseWrite() error }

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// takes reports whether the lean loop answers req, which
// http.ReadRequest parsed; see the comment at the top of the file.
func (l *lean) takes(req *http.Request) bool {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return false
	}
	if req.ProtoMajor != 1 || req.ProtoMinor != 1 {
		return false
	}
	if len(req.RequestURI) == 0 || req.RequestURI[0] != '/' {
		return false
	}
	h := req.Header
	if req.ContentLength != 0 || len(req.TransferEncoding) != 0 || h["Content-Length"] != nil || h["Transfer-Encoding"] != nil ||
		h["Expect"] != nil || h["Upgrade"] != nil || h["Http2-Settings"] != nil {
		return false
	}
	// What net/http's server checks beyond the parser, which has taken
	// the one Host field (it refuses two) out of the header: a Host
	// that is missing or empty goes to net/http too.
	if req.Host == "" || !httpguts.ValidHostHeader(req.Host) {
		return false
	}
	for k, vv := range h {
		if !httpguts.ValidHeaderFieldName(k) {
			return false
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return false
			}
		}
	}
	return l.plain(req)
}

var errHandOver = errors.New("header too large for the lean loop")

// headerLen returns the length of the request header at the start of
// buf, up to and with the empty line that ends it (a line ends with LF,
// CRLF for net/http's parser too), or -1 when buf does not hold it all.
func headerLen(buf []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		switch {
		case i < len(buf) && buf[i] == '\n':
			return i + 1
		case i+1 < len(buf) && buf[i] == '\r' && buf[i+1] == '\n':
			return i + 2
		}
	}
}

// readHeader reads into br's buffer until it holds the whole request
// header, and returns its length; errHandOver when it does not fit.
func readHeader(br *bufio.Reader) (int, error) {
	for {
		buf := peekN(br, br.Buffered())
		if n := headerLen(buf); n >= 0 {
			return n, nil
		}
		if len(buf) >= br.Size() {
			return 0, errHandOver
		}
		if _, err := br.Peek(len(buf) + 1); err != nil {
			if len(buf) > 0 && !isTimeout(err) {
				// net/http answers a truncated header as it sees fit.
				return 0, errHandOver
			}
			return 0, err
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func peekN(br *bufio.Reader, n int) []byte {
	b, _ := br.Peek(n)
	return b
}

// handOver gives c to net/http, with head and what br holds read before
// anything else. The first read deadline net/http sets, the one for the
// request's header, is kept to hdrDeadline. It reports whether net/http
// took the connection.
func (l *lean) handOver(c net.Conn, bw *bufio.Writer, br *bufio.Reader, head []byte, hdrDeadline time.Time) bool {
	// The answers to the requests before go first.
	if bw.Flush() != nil {
		return false
	}
	rest := peekN(br, br.Buffered())
	prefix := make([]byte, 0, len(head)+len(rest))
	prefix = append(append(prefix, head...), rest...)
	_ = c.SetReadDeadline(time.Time{})
	hc := &handoverConn{Conn: c, prefix: prefix, limit: hdrDeadline}
	select {
	case l.handover.conns <- hc:
		return true
	case <-l.handover.done:
		return false
	}
}

// handoverListener hands connections the lean loop gave up on to
// net/http's server.
type handoverListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (h *handoverListener) Accept() (net.Conn, error) {
	select {
	case c := <-h.conns:
		return c, nil
	case <-h.done:
		return nil, net.ErrClosed
	}
}

func (h *handoverListener) Close() error {
	h.once.Do(func() { close(h.done) })
	return nil
}

func (h *handoverListener) Addr() net.Addr { return h.addr }

// handoverConn replays what the lean loop read before reading on.
type handoverConn struct {
	net.Conn
	mu     sync.Mutex
	prefix []byte
	limit  time.Time // for the first SetReadDeadline
	set    bool
}

func (c *handoverConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		c.mu.Unlock()
		return n, nil
	}
	c.mu.Unlock()
	return c.Conn.Read(p)
}

func (c *handoverConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	if !c.set {
		c.set = true
		if !c.limit.IsZero() && (t.IsZero() || t.After(c.limit)) {
			t = c.limit
		}
	}
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

func (c *handoverConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(t)
}

// leanResponse is the http.ResponseWriter of the lean loop. It keeps the
// whole response, which a plain request's is small, and writes it as
// net/http's server would have: the same status line, the handler's
// header fields in the same order, then Date, Content-Length (computed
// when the handler gave none), a sniffed Content-Type and Connection.
type leanResponse struct {
	req         *http.Request
	header      http.Header
	status      int
	wroteHeader bool
	body        []byte
	date        []byte
	dateSec     int64
}

func (w *leanResponse) reset(req *http.Request) {
	w.req = req
	// Handlers do not keep the header map past their return, as with
	// net/http, whose maps are fresh each time: this one is reused.
	clear(w.header)
	w.status = 0
	w.wroteHeader = false
	w.body = w.body[:0]
}

func (w *leanResponse) Header() http.Header { return w.header }

func (w *leanResponse) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		// Informational answers are not taken on by plain rules; a
		// handler that sends one anyway sees it dropped.
		return
	}
	w.wroteHeader = true
	w.status = code
}

func (w *leanResponse) Write(p []byte) (int, error) {
	if err := w.room(len(p)); err != nil {
		return 0, err
	}
	w.body = append(w.body, p...)
	return len(p), nil
}

func (w *leanResponse) WriteString(s string) (int, error) {
	if err := w.room(len(s)); err != nil {
		return 0, err
	}
	w.body = append(w.body, s...)
	return len(s), nil
}

// maxLeanBody bounds the body the lean loop keeps. Plain answers are far
// smaller; a larger one (a table swapped between the plain check and the
// handler, to rules that proxy) ends the connection instead of growing.
const maxLeanBody = 64 << 10

func (w *leanResponse) room(n int) error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return http.ErrBodyNotAllowed
	}
	if len(w.body)+n > maxLeanBody {
		panic(http.ErrAbortHandler)
	}
	return nil
}

func bodyAllowed(status int) bool {
	return (status < 100 || status > 199) && status != http.StatusNoContent && status != http.StatusNotModified
}

// finish writes the response to bw and reports whether the connection
// closes after it.
func (w *leanResponse) finish(bw *bufio.Writer, closeAfter bool) bool {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	h := w.header
	head := w.req.Method == http.MethodHead
	if v := h["Connection"]; len(v) > 0 && httpguts.HeaderValuesContainsToken(v, "close") {
		closeAfter = true
	}
	var contentType string
	_, haveType := h["Content-Type"]
	if !haveType && bodyAllowed(w.status) && len(w.body) > 0 && h.Get("Content-Encoding") == "" {
		contentType = http.DetectContentType(w.body)
	}
	setLength := bodyAllowed(w.status) && h["Content-Length"] == nil && (!head || len(w.body) > 0)
	// The body goes whole, with its length: never chunked.
	delete(h, "Transfer-Encoding")

	bw.WriteString("HTTP/1.1 ")
	if text := http.StatusText(w.status); text != "" {
		bw.Write(strconv.AppendInt(bw.AvailableBuffer(), int64(w.status), 10))
		bw.WriteByte(' ')
		bw.WriteString(text)
	} else {
		bw.WriteString(strconv.Itoa(w.status))
		bw.WriteString(" status code ")
		bw.WriteString(strconv.Itoa(w.status))
	}
	bw.WriteString("\r\n")
	writeHeader(bw, h)
	if _, ok := h["Date"]; !ok {
		bw.WriteString("Date: ")
		bw.Write(w.dateNow())
		bw.WriteString("\r\n")
	}
	if setLength {
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(bw.AvailableBuffer(), int64(len(w.body)), 10))
		bw.WriteString("\r\n")
	}
	if contentType != "" {
		bw.WriteString("Content-Type: ")
		bw.WriteString(contentType)
		bw.WriteString("\r\n")
	}
	if closeAfter && !httpguts.HeaderValuesContainsToken(h["Connection"], "close") {
		bw.WriteString("Connection: close\r\n")
	}
	bw.WriteString("\r\n")
	if !head {
		bw.Write(w.body)
	}
	w.req = nil
	return closeAfter
}

// dateNow is the Date field, formatted once a second.
func (w *leanResponse) dateNow() []byte {
	now := time.Now()
	if sec := now.Unix(); sec != w.dateSec || w.date == nil {
		w.dateSec = sec
		w.date = now.UTC().AppendFormat(w.date[:0], http.TimeFormat)
	}
	return w.date
}

// writeHeader writes h as http.Header.Write does, fields sorted by name,
// newlines in values turned to spaces and values trimmed, without its
// allocations for the few fields of a plain answer.
func writeHeader(bw *bufio.Writer, h http.Header) {
	var stack [8]string
	keys := stack[:0]
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !httpguts.ValidHeaderFieldName(k) {
			continue // dropped, as net/http drops them
		}
		for _, v := range h[k] {
			bw.WriteString(k)
			bw.WriteString(": ")
			v = textproto.TrimString(v)
			for i := 0; i < len(v); i++ {
				b := v[i]
				if b == '\r' || b == '\n' {
					b = ' '
				}
				bw.WriteByte(b)
			}
			bw.WriteString("\r\n")
		}
	}
}

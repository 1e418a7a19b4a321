// Package stream moves bodies between clients and backends in bounded
// memory, and abandons a transfer that stops making progress, so that a
// client that stops reading (or sending) releases the backend connection
// it was holding instead of keeping it, and a buffer, for ever.
//
// Copy sends a backend's response body to the client through a pooled
// buffer, with a write deadline that moves forward while bytes flow;
// Upload wraps a client's request body (a push, a publish) with a read
// deadline that does the same. Neither bounds how long a transfer takes,
// only how long it may stall: a large download at any steady speed goes
// through.
package stream

import (
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// DefaultStall is how long a transfer may make no progress when the
	// caller sets no other limit.
	DefaultStall = 60 * time.Second
	// Bodies stream through a pooled buffer: the only memory a transfer
	// holds, whatever its size. Large bodies (blobs) get a large one:
	// fewer, bigger reads and writes measured 1.2-1.4x the throughput of
	// 64 KiB ones on blob downloads. Small bodies (manifests, errors),
	// most requests, keep a small one.
	smallBufferSize = 64 << 10
	largeBufferSize = 1 << 20
	largeBody       = 1 << 20
	// maxWrite is the largest piece written at once: at the default
	// stall timeout, a client reading at 4 KiB/s still moves it.
	maxWrite = 256 << 10
	// abortFlush bounds sending what was copied of a body the backend
	// cut short.
	abortFlush = time.Second
	// smallRead is the read size under which a chunk of a body without
	// a length is flushed at once: a backend that trickles bytes is
	// passed on as it sends them.
	smallRead = 4 << 10
	// deadlineStep is how often deadlines move forward while bytes flow
	// (or a quarter of the stall timeout, if shorter): moving them on
	// every write would cost more than the copy.
	deadlineStep = time.Second
)

var (
	smallBuffers = sync.Pool{New: func() any { b := make([]byte, smallBufferSize); return &b }}
	largeBuffers = sync.Pool{New: func() any { b := make([]byte, largeBufferSize); return &b }}
)

// Copy streams body, of length bytes (-1 when unknown), to w. A transfer
// that makes no progress for stall (DefaultStall when 0), reading from
// body or writing to the client, is abandoned: a write blocked on a
// client that stopped reading fails at its deadline, and cancel, which
// must stop the read of body (the backend request's context), is called
// when the backend stops sending. Copy returns the bytes written and
// the error that ended the copy, nil at the end of body; the caller then
// closes body, which releases the backend connection.
func Copy(w http.ResponseWriter, body io.Reader, length int64, stall time.Duration, cancel context.CancelFunc) (int64, error) {
	if stall <= 0 {
		stall = DefaultStall
	}
	pool := &smallBuffers
	if length < 0 || length >= largeBody {
		pool = &largeBuffers
	}
	bp := pool.Get().(*[]byte)
	defer pool.Put(bp)
	buf := *bp
	rc := http.NewResponseController(w)
	timer := time.AfterFunc(stall, cancel)
	defer timer.Stop()
	deadlines := rc.SetWriteDeadline(time.Now().Add(stall)) == nil
	if deadlines {
		// The connection may serve further requests: clear the
		// deadline whatever happens here.
		defer func() { _ = rc.SetWriteDeadline(time.Time{}) }()
	}
	var written int64
	last := time.Now()
	step := min(deadlineStep, stall/4)
	for {
		n, err := body.Read(buf)
		// A large read goes out in pieces, so that a slow client that
		// keeps reading moves the deadline between them.
		for p := buf[:n]; len(p) > 0; {
			piece := p[:min(len(p), maxWrite)]
			p = p[len(piece):]
			// One clock reading per piece costs nothing beside its
			// write; the deadline itself moves at most every
			// deadlineStep.
			if now := time.Now(); now.Sub(last) >= step {
				last = now
				timer.Reset(stall)
				if deadlines {
					_ = rc.SetWriteDeadline(now.Add(stall))
				}
			}
			m, werr := w.Write(piece)
			written += int64(m)
			if werr != nil {
				return written, werr
			}
		}
		if n > 0 && n < smallRead && length < 0 {
			_ = rc.Flush()
		}
		if err == io.EOF {
			return written, nil
		}
		if err != nil {
			abort(rc)
			return written, err
		}
	}
}

// abort closes the connection of a response whose body was cut short by
// the backend: ending it normally would send the end of a chunked body,
// and the client would take what it got for the whole. (A response with
// a Content-Length would be closed by the server anyway.) Over HTTP/2,
// which cannot be hijacked, the stream ends normally.
func abort(rc *http.ResponseController) {
	// What was copied goes out first, with a deadline of its own (the
	// copy's may have passed): the client sees a body cut short, not a
	// connection that died before the answer.
	_ = rc.SetWriteDeadline(time.Now().Add(abortFlush))
	_ = rc.Flush()
	if conn, _, err := rc.Hijack(); err == nil {
		_ = conn.Close()
	}
}

// Upload returns body, the request body of w's request, with a read
// deadline that moves forward while bytes arrive: a client that stops
// sending for stall (DefaultStall when 0) makes the read fail, and so
// the backend request it feeds. Closing it lifts the deadline.
func Upload(w http.ResponseWriter, body io.ReadCloser, stall time.Duration) io.ReadCloser {
	if body == nil || body == http.NoBody {
		return body
	}
	if stall <= 0 {
		stall = DefaultStall
	}
	return &upload{body: body, rc: http.NewResponseController(w), stall: stall}
}

// upload is read by the HTTP client's writing goroutine and may be
// closed from another, hence the atomics.
type upload struct {
	body  io.ReadCloser
	rc    *http.ResponseController
	stall time.Duration
	last  atomic.Int64 // unix nanoseconds of the last deadline set
	off   atomic.Bool  // the connection takes no deadlines
}

func (u *upload) Read(p []byte) (int, error) {
	if !u.off.Load() {
		if now := time.Now(); now.UnixNano()-u.last.Load() >= int64(deadlineStep) {
			u.last.Store(now.UnixNano())
			if u.rc.SetReadDeadline(now.Add(u.stall)) != nil {
				u.off.Store(true)
			}
		}
	}
	return u.body.Read(p)
}

func (u *upload) Close() error {
	if !u.off.Load() && u.last.Load() != 0 {
		_ = u.rc.SetReadDeadline(time.Time{})
	}
	return u.body.Close()
}

package blobcache

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// A Fetch asks the upstream for an object. It returns the body of a
// successful answer and its length (-1 when unknown), or the error that
// the protocol answers its clients with (an upstream's 404, a refused
// redirect). ctx outlives the client that caused the fetch, so that the
// clients still reading get the object when it leaves, and it carries
// that client's context values (the outbound policy, the trace).
type Fetch func(ctx context.Context) (body io.ReadCloser, size int64, err error)

// Result is what Serve did.
type Result struct {
	// Status is the status sent, 0 when nothing was: Serve's error
	// then says why, and the caller answers.
	Status int
	// Hit is set when the object was kept before the request.
	Hit bool
	// Bytes is the length of the body sent.
	Bytes int64
}

// Serve answers r with object d: from the cache when kept (a hit), else
// from the transfer that fetches it, started by fetch unless another
// request already did. ctype is its Content-Type; header, when not nil,
// sets the caller's own headers just before they go out.
//
// An error with Result.Status 0 is the fetch's, or the object's failure
// to verify before anything was sent: the caller answers. An error with
// a status is a body cut short (the upstream failed or sent wrong
// bytes, or the client went away); the connection is then closed so
// that the client can tell.
func (c *Cache) Serve(w http.ResponseWriter, r *http.Request, d Digest, ctype string, header func(http.Header), fetch Fetch) (Result, error) {
	if f, e := c.open(d); f != nil {
		defer f.Close()
		c.m.hits.Inc()
		res, err := c.serveFile(w, r, f, d, e.size, ctype, header)
		res.Hit = true
		c.m.served.Add(float64(res.Bytes))
		return res, err
	}
	c.mu.Lock()
	if f, e := c.open(d); f != nil {
		// Kept between the first look and the lock.
		c.mu.Unlock()
		defer f.Close()
		c.m.hits.Inc()
		res, err := c.serveFile(w, r, f, d, e.size, ctype, header)
		res.Hit = true
		c.m.served.Add(float64(res.Bytes))
		return res, err
	}
	fl := c.fills[d.name()]
	if fl == nil {
		fl = c.start(r.Context(), d, fetch)
	}
	// Registered while the transfer is listed: its file stays until
	// this request is done with it.
	fl.hold()
	c.mu.Unlock()
	defer fl.release()
	c.m.misses.Inc()
	select {
	case <-fl.ready:
	case <-r.Context().Done():
		return Result{}, r.Context().Err()
	}
	if fl.headErr != nil {
		return Result{}, fl.headErr
	}
	if r.Method == http.MethodHead && fl.size >= 0 {
		h := w.Header()
		h["Content-Type"] = []string{ctype}
		h["Etag"] = []string{`"` + d.String() + `"`}
		h["Content-Length"] = []string{strconv.FormatInt(fl.size, 10)}
		h["Accept-Ranges"] = []string{"bytes"}
		if header != nil {
			header(h)
		}
		w.WriteHeader(http.StatusOK)
		return Result{Status: http.StatusOK}, nil
	}
	if r.Header.Get("Range") != "" || r.Method == http.MethodHead {
		// A part of the object, or its headers, wait for the whole to
		// be verified, and then are served as from the cache.
		select {
		case <-fl.done:
		case <-r.Context().Done():
			return Result{}, r.Context().Err()
		}
		if fl.err != nil {
			return Result{}, fl.err
		}
		f, err := fl.openReader()
		if err != nil {
			return Result{}, err
		}
		defer f.Close()
		return c.serveFile(w, r, f, d, fl.size, ctype, header)
	}
	return c.tail(w, r, fl, d, ctype, header)
}

// serveFile sends f, the verified object d of size bytes, honouring
// conditional and Range requests.
func (c *Cache) serveFile(w http.ResponseWriter, r *http.Request, f *os.File, d Digest, size int64, ctype string, header func(http.Header)) (Result, error) {
	h := w.Header()
	h["Content-Type"] = []string{ctype}
	h["Etag"] = []string{`"` + d.String() + `"`}
	if header != nil {
		header(h)
	}
	sw := c.newSendWriter(w)
	defer sw.done()
	http.ServeContent(sw, r, "", time.Time{}, f)
	status := sw.status
	if status == 0 {
		status = http.StatusOK
	}
	var err error
	if sw.err != nil {
		err = fmt.Errorf("sending a cached object: %w", sw.err)
	}
	return Result{Status: status, Bytes: sw.n}, err
}

// tail sends the object of fl while it arrives.
func (c *Cache) tail(w http.ResponseWriter, r *http.Request, fl *fill, d Digest, ctype string, header func(http.Header)) (Result, error) {
	f, err := fl.openReader()
	if err != nil {
		return Result{}, err
	}
	defer f.Close()
	h := w.Header()
	h["Content-Type"] = []string{ctype}
	h["Etag"] = []string{`"` + d.String() + `"`}
	if fl.size >= 0 {
		h["Content-Length"] = []string{strconv.FormatInt(fl.size, 10)}
	}
	if header != nil {
		header(h)
	}
	w.WriteHeader(http.StatusOK)
	sw := c.newSendWriter(w)
	defer sw.done()
	res := Result{Status: http.StatusOK}
	var off int64
	for {
		avail, done, ferr := fl.wait(r.Context(), off)
		if want := avail - off; want > 0 {
			n, err := sw.ReadFrom(&io.LimitedReader{R: f, N: want})
			off += n
			res.Bytes = off
			if err != nil {
				return res, fmt.Errorf("sending an object as it arrives: %w", err)
			}
			if n < want {
				// The file holds fewer bytes than written: it cannot.
				return res, abortf(w, "short read of a transfer in progress")
			}
			continue
		}
		if !done {
			// The client went away.
			return res, r.Context().Err()
		}
		if ferr != nil {
			return res, abort(w, ferr)
		}
		return res, nil
	}
}

func abortf(w http.ResponseWriter, format string, args ...any) error {
	return abort(w, fmt.Errorf(format, args...))
}

// abort closes the connection of a response cut short, so that a client
// of a body without a length does not take the end of the chunked
// encoding for the end of the object. (With a length, the server closes
// it anyway.)
func abort(w http.ResponseWriter, err error) error {
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	if conn, _, herr := rc.Hijack(); herr == nil {
		_ = conn.Close()
	}
	return err
}

// fill is one object on its way from the upstream.
type fill struct {
	d     Digest
	ready chan struct{} // closed when the answer's head is known
	done  chan struct{} // closed when the transfer ended
	// Set before ready is closed.
	headErr error
	size    int64 // -1 when unknown
	// Set before done is closed.
	err error

	mu      sync.Mutex
	path    string // the temporary file, then the object's
	written int64
	notify  chan struct{} // closed and replaced on every progress
	readers int           // requests holding the temporary file
	discard bool          // the temporary file goes with the last reader
}

// progressReader moves the stall timer forward while bytes arrive, at
// most once a second.
type progressReader struct {
	r     io.Reader
	timer *time.Timer
	stall time.Duration
	last  time.Time
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		if now := time.Now(); now.Sub(p.last) >= time.Second {
			p.last = now
			p.timer.Reset(p.stall)
		}
	}
	return n, err
}

func (fl *fill) hold() {
	fl.mu.Lock()
	fl.readers++
	fl.mu.Unlock()
}

func (fl *fill) release() {
	fl.mu.Lock()
	fl.readers--
	if fl.readers == 0 && fl.discard {
		_ = os.Remove(fl.path)
	}
	fl.mu.Unlock()
}

// drop removes the temporary file once no request reads it.
func (fl *fill) drop() {
	fl.mu.Lock()
	fl.discard = true
	if fl.readers == 0 && fl.path != "" {
		_ = os.Remove(fl.path)
	}
	fl.mu.Unlock()
}

// start registers the transfer of d and starts it in a goroutine of its
// own. Every client, the first included, reads the file it writes: a
// client slower than the others, or than the upstream, holds back no
// one. c.mu is held.
func (c *Cache) start(rctx context.Context, d Digest, fetch Fetch) *fill {
	fl := &fill{d: d, ready: make(chan struct{}), done: make(chan struct{}), notify: make(chan struct{}), size: -1}
	c.fills[d.name()] = fl
	// The transfer outlives the request that caused it: the clients
	// that joined it still read, and the next ones get a hit.
	ctx, cancel := context.WithCancel(context.WithoutCancel(rctx))
	// After Close, c.base is done and the transfer ends at once.
	tracked := !c.closed
	if tracked {
		c.running.Add(1)
	}
	go func() {
		if tracked {
			defer c.running.Done()
		}
		stop := context.AfterFunc(c.base, cancel)
		defer stop()
		defer cancel()
		c.run(ctx, cancel, fl, fetch)
	}()
	return fl
}

// minRead is the least read from the upstream before the bytes are
// hashed and written: fewer, larger writes and wake-ups of readers.
const minRead = 256 << 10

// run fetches the object of fl into a temporary file, hashing it in the
// same pass, and keeps it when it verifies.
func (c *Cache) run(ctx context.Context, cancel context.CancelFunc, fl *fill, fetch Fetch) {
	d := fl.d
	finish := func(err error) {
		fl.mu.Lock()
		fl.err = err
		close(fl.notify)
		fl.mu.Unlock()
		close(fl.done)
	}
	unregister := func() {
		c.mu.Lock()
		delete(c.fills, d.name())
		c.mu.Unlock()
	}
	// The fetch itself is bounded by the transport's waits; the body
	// by the stall timer below.
	body, size, err := fetch(ctx)
	if err != nil {
		fl.headErr = err
		unregister()
		close(fl.ready)
		finish(err)
		return
	}
	defer body.Close()
	f, err := os.CreateTemp(c.tmp, d.name()+".*")
	if err != nil {
		fl.headErr = fmt.Errorf("blobcache: %w", err)
		unregister()
		close(fl.ready)
		finish(fl.headErr)
		return
	}
	fl.path, fl.size = f.Name(), size
	close(fl.ready)

	timer := time.AfterFunc(c.stall, cancel)
	defer timer.Stop()
	// Reading runs here, hashing and writing the file in a goroutine
	// of its own, on buffers passed back and forth: on two cores the
	// hash, the costliest step, runs beside the reads.
	const pipeline = 4
	var bps [pipeline]*[]byte
	free := make(chan []byte, pipeline)
	for i := range bps {
		bps[i] = buffers.Get().(*[]byte)
		free <- *bps[i]
	}
	defer func() {
		for _, bp := range bps {
			buffers.Put(bp)
		}
	}()
	h := d.newHash()
	toHash := make(chan []byte, pipeline)
	hashed := make(chan error, 1)
	go func() {
		var werr error
		var written int64
		for b := range toHash {
			h.Write(b)
			if werr == nil {
				if _, err := f.Write(b); err != nil {
					werr = fmt.Errorf("blobcache: writing %s: %w", d, err)
				}
			}
			written += int64(len(b))
			if werr == nil {
				fl.progress(written)
			}
			free <- b[:cap(b)]
		}
		hashed <- werr
	}()
	src := &progressReader{r: body, timer: timer, stall: c.stall}
	var n int64
	var ferr error
	for {
		buf := <-free
		k, rerr := io.ReadAtLeast(src, buf, minRead)
		if k > 0 {
			n += int64(k)
			if size >= 0 && n > size {
				ferr = &VerifyError{Digest: d, Reason: "the upstream sent more bytes than announced"}
				break
			}
			toHash <- buf[:k]
		} else {
			free <- buf
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			if ctx.Err() != nil && c.base.Err() == nil {
				rerr = fmt.Errorf("the upstream made no progress for %s: %w", c.stall, rerr)
			}
			ferr = &VerifyError{Digest: d, Reason: "the transfer failed after " + strconv.FormatInt(n, 10) + " bytes: " + rerr.Error()}
			break
		}
	}
	close(toHash)
	if werr := <-hashed; werr != nil && ferr == nil {
		ferr = werr
	}
	c.m.fetched.Add(float64(n))
	if ferr == nil && size >= 0 && n != size {
		ferr = &VerifyError{Digest: d, Reason: fmt.Sprintf("the upstream sent %d of %d bytes", n, size)}
	}
	if ferr == nil {
		if got := hex.EncodeToString(h.Sum(nil)); got != d.sum {
			ferr = &VerifyError{Digest: d, Reason: "the bytes hash to " + d.algo + ":" + got}
		}
	}
	if ferr != nil {
		var ve *VerifyError
		reason := "io"
		if errors.As(ferr, &ve) {
			reason = "verify"
		}
		c.m.rejected.WithLabelValues(reason).Inc()
		c.log.Warn("cache: upstream object discarded", "digest", d.String(), "err", ferr)
		_ = f.Close()
		unregister()
		finish(ferr)
		fl.drop()
		return
	}
	// The clients get their last bytes now; syncing is for the
	// next ones.
	finish(nil)
	keep := c.max <= 0 || n <= c.max
	if keep {
		if err := f.Sync(); err != nil {
			keep = false
			c.log.Warn("cache: syncing an object", "digest", d.String(), "err", err)
		}
	}
	_ = f.Close()
	if keep {
		fl.mu.Lock()
		err := os.Rename(fl.path, c.path(d))
		if err == nil {
			fl.path = c.path(d)
		}
		fl.mu.Unlock()
		if err != nil {
			keep = false
			c.log.Warn("cache: storing an object", "digest", d.String(), "err", err)
		} else {
			c.add(&entry{d: d, size: n})
		}
	}
	unregister()
	if !keep {
		fl.drop()
	}
}

// progress makes n bytes visible to the readers.
func (fl *fill) progress(n int64) {
	fl.mu.Lock()
	fl.written = n
	close(fl.notify)
	fl.notify = make(chan struct{})
	fl.mu.Unlock()
}

// openReader opens the file of the transfer for one client.
func (fl *fill) openReader() (*os.File, error) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	f, err := os.Open(fl.path)
	if err != nil {
		return nil, fmt.Errorf("blobcache: opening a transfer: %w", err)
	}
	return f, nil
}

// wait blocks until more than off bytes may be sent, the transfer ends,
// or ctx does. It returns the bytes that may be sent; done says the
// transfer ended, with err its failure. The last byte of an object of
// known length is released only once the object verified.
func (fl *fill) wait(ctx context.Context, off int64) (avail int64, done bool, err error) {
	for {
		fl.mu.Lock()
		avail, ch := fl.written, fl.notify
		fl.mu.Unlock()
		select {
		case <-fl.done:
			if fl.err != nil {
				if fl.size >= 0 {
					avail = min(avail, fl.size-1)
				}
				return avail, true, fl.err
			}
			return fl.written, true, nil
		default:
		}
		if fl.size >= 0 {
			avail = min(avail, fl.size-1)
		}
		if avail > off {
			return avail, false, nil
		}
		select {
		case <-ch:
		case <-fl.done:
		case <-ctx.Done():
			return off, false, ctx.Err()
		}
	}
}

// sendWriter sends files with sendfile when the server can, a slice at a
// time, moving the write deadline forward between slices: a client that
// stops reading is cut after the stall bound instead of holding its
// connection and file for ever.
type sendWriter struct {
	http.ResponseWriter
	rc     *http.ResponseController
	stall  time.Duration
	status int
	n      int64
	err    error
	dl     bool // write deadlines work on this connection
}

func (c *Cache) newSendWriter(w http.ResponseWriter) *sendWriter {
	return &sendWriter{ResponseWriter: w, rc: http.NewResponseController(w), stall: c.stall, dl: true}
}

func (s *sendWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *sendWriter) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	s.extend()
	n, err := s.ResponseWriter.Write(p)
	s.n += int64(n)
	if err != nil && s.err == nil {
		s.err = err
	}
	return n, err
}

func (s *sendWriter) extend() {
	if s.dl && s.rc.SetWriteDeadline(time.Now().Add(s.stall)) != nil {
		s.dl = false
	}
}

// done lifts the deadline: the connection may serve more requests.
func (s *sendWriter) done() {
	if s.dl {
		_ = s.rc.SetWriteDeadline(time.Time{})
	}
}

// ReadFrom sends src, a file or a slice of one (what http.ServeContent
// and tail pass), with the server's own ReadFrom: sendfile.
func (s *sendWriter) ReadFrom(src io.Reader) (int64, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	rf, ok := s.ResponseWriter.(io.ReaderFrom)
	lr, limited := src.(*io.LimitedReader)
	if !ok || !limited {
		n, err := io.Copy(writerOnly{s}, src)
		return n, err
	}
	var total int64
	for lr.N > 0 {
		s.extend()
		n, err := rf.ReadFrom(&io.LimitedReader{R: lr.R, N: min(lr.N, sendSlice)})
		lr.N -= n
		total += n
		s.n += n
		if err != nil {
			if s.err == nil {
				s.err = err
			}
			return total, err
		}
		if n == 0 {
			break
		}
	}
	return total, nil
}

// writerOnly hides ReadFrom, for io.Copy.
type writerOnly struct{ io.Writer }

// Unwrap gives http.ResponseController the server's writer.
func (s *sendWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

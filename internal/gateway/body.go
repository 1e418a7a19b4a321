package gateway

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"
)

// DefaultBodyTimeout is how long a rule waits for a request body it reads
// when the router sets no other (--body-timeout).
const DefaultBodyTimeout = 10 * time.Second

// ErrBodyTimeout reports a request body that did not arrive in time.
var ErrBodyTimeout = errors.New("request body not received in time")

// ReadBody calls read with the request body under a read deadline: the
// whole body must arrive within req.BodyTimeout (DefaultBodyTimeout when
// zero). The server has no read timeout of its own, because a docker push
// legitimately streams for long; rules that read small bodies use this
// instead, so that a client sending one byte at a time cannot hold a
// connection and a goroutine for ever.
//
// Whatever read leaves of the body is read and discarded by closing it,
// up to the server's limit and still under the deadline: otherwise the
// server would read it without one once the response starts. Then the
// deadline is cleared, so that the rest of the request and a kept-alive
// connection's wait for the next one are not bound by it (net/http resets
// it before that wait as well, but a rule should not depend on it). If the client was too slow, the error is
// ErrBodyTimeout and the caller should answer with RequestTimeout;
// otherwise it is read's.
func (req *Request) ReadBody(w http.ResponseWriter, read func(body io.ReadCloser) error) error {
	timeout := req.BodyTimeout
	if timeout <= 0 {
		timeout = DefaultBodyTimeout
	}
	rc := http.NewResponseController(w)
	deadline := time.Now().Add(timeout)
	// Writers that cannot set deadlines (a test's recorder) read
	// without one.
	set := rc.SetReadDeadline(deadline) == nil
	err := read(req.HTTP.Body)
	closeErr := req.HTTP.Body.Close()
	if set {
		_ = rc.SetReadDeadline(time.Time{})
	}
	for _, e := range []error{err, closeErr} {
		if e != nil && (errors.Is(e, os.ErrDeadlineExceeded) || set && !time.Now().Before(deadline)) {
			return ErrBodyTimeout
		}
	}
	return err
}

// ReadBodyPrefix reads the body into buf until buf is full or the body
// ends, under ReadBody's deadline, and returns the number of bytes read.
// A body shorter than buf is not an error.
func (req *Request) ReadBodyPrefix(w http.ResponseWriter, buf []byte) (int, error) {
	n := 0
	err := req.ReadBody(w, func(body io.ReadCloser) error {
		var err error
		n, err = io.ReadFull(body, buf)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = nil
		}
		return err
	})
	return n, err
}

// RequestTimeout answers a request whose body did not arrive in time:
// 408, and the connection is closed, since the rest of the body may still
// be on its way. It returns the status.
func RequestTimeout(w http.ResponseWriter) int {
	w.Header()["Connection"] = connectionClose
	w.WriteHeader(http.StatusRequestTimeout)
	return http.StatusRequestTimeout
}

var connectionClose = []string{"close"}

// Package server runs HTTP and HTTPS listeners with production settings:
// header size and time limits, idle connection limits, panic recovery, a
// bounded graceful shutdown, and HTTP/2 on HTTPS. The standard library's
// own error log, which names the client's address ("TLS handshake error
// from ADDR"), has the addresses taken out before it is written.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"
)

// Limits bound what a client can make a server hold.
type Limits struct {
	MaxHeaderBytes int
	HeaderTimeout  time.Duration
	IdleTimeout    time.Duration
}

// A Server is one HTTP or HTTPS listener.
type Server struct {
	name string
	srv  *http.Server
	ln   net.Listener
	tls  bool
	log  *slog.Logger
	done chan error

	lim   Limits
	plain func(*http.Request) bool // ServeLean's
	lean  *lean
}

// ListenTLS binds addr for handler over TLS with cfg, which must choose
// certificates (GetCertificate). HTTP/2 is offered unless cfg's
// NextProtos leave it out. Nothing is served until Start.
func ListenTLS(name, addr string, handler http.Handler, cfg *tls.Config, lim Limits, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return NewTLS(name, ln, handler, cfg, lim, log), nil
}

// Listen binds addr for handler. Nothing is served until Start.
func Listen(name, addr string, handler http.Handler, lim Limits, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return New(name, ln, handler, lim, log), nil
}

// NewTLS is ListenTLS on a listener bound already, for a caller that
// needs the address before it can build cfg or handler.
func NewTLS(name string, ln net.Listener, handler http.Handler, cfg *tls.Config, lim Limits, log *slog.Logger) *Server {
	s := New(name, ln, handler, lim, log)
	s.srv.TLSConfig = cfg
	s.tls = true
	return s
}

// New is Listen on a listener bound already.
func New(name string, ln net.Listener, handler http.Handler, lim Limits, log *slog.Logger) *Server {
	return &Server{
		name: name,
		ln:   ln,
		log:  log,
		lim:  lim,
		done: make(chan error, 1),
		srv: &http.Server{
			Handler:           recoverPanics(handler, log),
			MaxHeaderBytes:    lim.MaxHeaderBytes,
			ReadHeaderTimeout: lim.HeaderTimeout,
			IdleTimeout:       lim.IdleTimeout,
			// No read or write timeout: a docker push or a large
			// proxied download legitimately takes long. Stalled
			// transfers are bounded by the upstream client.
			ErrorLog: stdlog.New(scrubber{log.Handler()}, "", 0),
		},
	}
}

// Addr returns the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Start serves in the background.
func (s *Server) Start() {
	if s.plain != nil {
		s.lean = newLean(s)
		go func() { _ = s.srv.Serve(s.lean.handover) }()
		go func() {
			err := s.lean.serve()
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			s.done <- err
		}()
		return
	}
	go func() {
		var err error
		if s.tls {
			// The certificates come from TLSConfig.GetCertificate.
			err = s.srv.ServeTLS(s.ln, "", "")
		} else {
			err = s.srv.Serve(s.ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
}

// Done delivers the error that stopped the server (nil after Shutdown).
func (s *Server) Done() <-chan error { return s.done }

// Shutdown stops accepting connections and waits for in-flight requests
// until ctx ends, then closes what is left. A server that was never
// started releases its address.
func (s *Server) Shutdown(ctx context.Context) error {
	var leanErr error
	if s.lean != nil {
		leanErr = s.lean.shutdown(ctx)
	}
	err := s.srv.Shutdown(ctx)
	if err == nil {
		err = leanErr
	}
	if err != nil {
		s.log.Warn("in-flight requests did not finish in time; closing their connections", "listener", s.name, "err", err)
		_ = s.srv.Close()
	}
	// Serve closed the listener already, if it ran.
	_ = s.ln.Close()
	return err
}

// recoverPanics answers 500 when a handler panics, logging the panic
// without any client data, instead of dropping the connection.
func recoverPanics(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			log.Error("panic serving request", "method", r.Method, "host", r.Host, "panic", v, "stack", string(debug.Stack()))
			w.WriteHeader(http.StatusInternalServerError)
		}()
		next.ServeHTTP(w, r)
	})
}

// scrubber writes the lines of net/http's error log (handshake failures,
// malformed requests) to a slog handler at debug level, with every word
// that is an address, with or without a port, replaced: they name
// clients.
type scrubber struct{ h slog.Handler }

func (s scrubber) Write(p []byte) (int, error) {
	ctx := context.Background()
	if !s.h.Enabled(ctx, slog.LevelDebug) {
		return len(p), nil
	}
	words := strings.Fields(string(p))
	for i, w := range words {
		if isAddr(strings.TrimRight(w, ":,;")) {
			words[i] = "[client]"
		}
	}
	r := slog.NewRecord(time.Now(), slog.LevelDebug, strings.Join(words, " "), 0)
	return len(p), s.h.Handle(ctx, r)
}

// isAddr reports whether w is an IP address or an address and port.
func isAddr(w string) bool {
	if _, err := netip.ParseAddrPort(w); err == nil {
		return true
	}
	_, err := netip.ParseAddr(strings.Trim(w, "[]"))
	return err == nil
}

// Package server runs HTTP listeners with production settings: header
// size and time limits, idle connection limits, panic recovery and a
// bounded graceful shutdown.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"
)

// Limits bound what a client can make a server hold.
type Limits struct {
	MaxHeaderBytes int
	HeaderTimeout  time.Duration
	IdleTimeout    time.Duration
}

// A Server is one HTTP listener.
type Server struct {
	name string
	srv  *http.Server
	ln   net.Listener
	log  *slog.Logger
	done chan error
}

// Listen binds addr for handler. Nothing is served until Start.
func Listen(name, addr string, handler http.Handler, lim Limits, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{
		name: name,
		ln:   ln,
		log:  log,
		done: make(chan error, 1),
		srv: &http.Server{
			Handler:           recoverPanics(handler, log),
			MaxHeaderBytes:    lim.MaxHeaderBytes,
			ReadHeaderTimeout: lim.HeaderTimeout,
			IdleTimeout:       lim.IdleTimeout,
			// No read or write timeout: a docker push or a large
			// proxied download legitimately takes long. Stalled
			// transfers are bounded by the upstream client.
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		},
	}
	return s, nil
}

// Addr returns the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Start serves in the background.
func (s *Server) Start() {
	go func() {
		err := s.srv.Serve(s.ln)
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
	err := s.srv.Shutdown(ctx)
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

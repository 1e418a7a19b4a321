package testenv

import (
	"fmt"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// A TCPProxy forwards connections to a backend until it is cut, which
// closes every connection and refuses new ones, as a database that went
// away does.
type TCPProxy struct {
	// Addr is the proxy's address, the same across Cut and Restore.
	Addr    string
	backend string
	mu      sync.Mutex
	ln      net.Listener
	conns   map[net.Conn]bool
}

// NewTCPProxy starts a proxy to backend on a free port of 127.0.0.1. It
// is cut when the test ends.
func NewTCPProxy(t testing.TB, backend string) *TCPProxy {
	t.Helper()
	p := &TCPProxy{backend: backend, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.Addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.Cut)
	return p
}

func (p *TCPProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", p.backend)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[b] = true, true
			p.mu.Unlock()
			go func() { io.Copy(b, c); b.Close() }()
			go func() { io.Copy(c, b); c.Close() }()
		}
	}()
}

// Cut closes every connection and stops accepting new ones.
func (p *TCPProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Restore accepts connections again, on the same address.
func (p *TCPProxy) Restore(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", p.Addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", p.Addr, err)
	}
	p.serve(ln)
}

// PostgresProxy puts a TCPProxy between the tests and the PostgreSQL
// server of the database url, and returns it with the database's URL
// through it (connections time out after 3 s, so that a cut shows soon).
func PostgresProxy(t testing.TB, url string) (*TCPProxy, string) {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	p := NewTCPProxy(t, fmt.Sprintf("%s:%d", cfg.Host, cfg.Port))
	return p, fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable&connect_timeout=3", cfg.User, p.Addr, cfg.Database)
}

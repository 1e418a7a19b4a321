package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"portico/internal/store"
	"portico/internal/store/postgres"
)

// pgServer is a PostgreSQL server of the scenario's own, made with initdb
// and run with pg_ctl on a free port, so that it can be stopped without
// disturbing anyone else's server.
type pgServer struct {
	dir  string
	port string
}

// asPostgres runs a PostgreSQL program as the postgres user when the
// scenario runs as root (the server refuses to run as root).
func asPostgres(name string, args ...string) *exec.Cmd {
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	}
	return exec.Command(name, args...)
}

func startPostgres() (*pgServer, error) {
	for _, bin := range []string{"initdb", "pg_ctl"} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("%s is needed (Debian: postgresql): %w", bin, err)
		}
	}
	dir, err := os.MkdirTemp("", "portico-fault-pg-")
	if err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chown", "postgres", dir).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("chown: %v: %s", err, out)
		}
	}
	_, port, _ := net.SplitHostPort(freePort())
	p := &pgServer{dir: dir, port: port}
	if out, err := asPostgres("initdb", "-D", filepath.Join(dir, "data"), "-U", "postgres", "-A", "trust", "--no-sync").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	return p, p.start()
}

func (p *pgServer) url() string {
	return "postgres://postgres@127.0.0.1:" + p.port + "/postgres?sslmode=disable"
}

func (p *pgServer) start() error {
	opts := fmt.Sprintf("-p %s -k %s -c listen_addresses=127.0.0.1 -c fsync=off", p.port, p.dir)
	out, err := asPostgres("pg_ctl", "-D", filepath.Join(p.dir, "data"), "-l", filepath.Join(p.dir, "log"), "-o", opts, "-w", "start").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl start: %v: %s", err, out)
	}
	return nil
}

// stop shuts the server down at once, cutting its clients.
func (p *pgServer) stop() error {
	out, err := asPostgres("pg_ctl", "-D", filepath.Join(p.dir, "data"), "-m", "immediate", "-w", "stop").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %v: %s", err, out)
	}
	return nil
}

func (p *pgServer) remove() {
	_ = p.stop()
	os.RemoveAll(p.dir)
}

// downloads returns the downloads the store counts over the last day and
// the next hours, as the dashboard would show them.
func downloads(url string) (int64, error) {
	st, err := postgres.New(postgres.Config{URL: url, MaxConns: 1})
	if err != nil {
		return 0, err
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	now := time.Now().UTC()
	rows, err := st.Aggregate(ctx, store.Query{
		Filter:  store.Filter{From: now.Add(-24 * time.Hour), To: now.Add(2 * time.Hour)},
		Measure: store.Downloads,
	})
	if err != nil {
		return 0, err
	}
	var n int64
	for _, r := range rows {
		n += r.Value
	}
	return n, nil
}

// waitForTotal waits until the store counts want downloads, or d passes,
// and returns the last count.
func waitForTotal(url string, want int64, d time.Duration) int64 {
	var got int64
	t0 := time.Now()
	waitUntil(context.Background(), d, func() bool {
		n, err := downloads(url)
		if err != nil {
			if !strings.Contains(err.Error(), "connect") {
				log.Printf("counting downloads: %v", err)
			}
			return false
		}
		got = n
		return got == want
	})
	log.Printf("store counts %d downloads, %v after the load stopped", got, time.Since(t0).Round(100*time.Millisecond))
	return got
}

package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// kaConn is one client keep-alive connection, spoken to by hand so that
// every request provably goes over the same connection.
type kaConn struct {
	c  net.Conn
	br *bufio.Reader
}

// get sends a download on the connection and reads its answer.
func (k *kaConn) get(n int) error {
	_ = k.c.SetDeadline(time.Now().Add(time.Minute))
	req := "GET " + redirectPath(n) + " HTTP/1.1\r\nHost: get.test\r\nUser-Agent: curl/8.5.0\r\n\r\n"
	if _, err := io.WriteString(k.c, req); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	resp, err := http.ReadResponse(k.br, nil)
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("body: %w", err)
	}
	if resp.StatusCode != http.StatusTemporaryRedirect {
		return fmt.Errorf("status %s", resp.Status)
	}
	if resp.Close {
		return errors.New("the server closed the keep-alive connection")
	}
	return nil
}

// conns opens n keep-alive connections to one gateway, holds them all
// open, and sends rounds of one download on each, every connection at
// once in each round.
func conns(args []string) error {
	fs := flag.NewFlagSet("conns", flag.ExitOnError)
	n := fs.Int("n", 10000, "concurrent keep-alive connections")
	rounds := fs.Int("rounds", 5, "downloads sent on each connection")
	fs.Parse(args)

	dir := tempDir("conns")
	defer removeDir(dir)
	g, err := startGateway(dir, redirectManifest, "--data", "none", "--events", "stdout")
	if err != nil {
		return err
	}
	defer g.kill()
	rss0 := g.rss()

	// Open every connection, at most 256 dials at a time.
	cs := make([]*kaConn, *n)
	var dialErrs []string
	var mu sync.Mutex
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range cs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", g.addr, 30*time.Second)
			if err != nil {
				mu.Lock()
				dialErrs = append(dialErrs, err.Error())
				mu.Unlock()
				return
			}
			cs[i] = &kaConn{c: c, br: bufio.NewReaderSize(c, 4096)}
		}()
	}
	wg.Wait()
	log.Printf("opened %d of %d connections in %v", *n-len(dialErrs), *n, time.Since(t0).Round(time.Millisecond))
	defer func() {
		for _, k := range cs {
			if k != nil {
				k.c.Close()
			}
		}
	}()

	var sent, ok atomic.Int64
	var failed []string
	for r := range *rounds {
		t := time.Now()
		start := make(chan struct{})
		for i, k := range cs {
			if k == nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				sent.Add(1)
				if err := k.get(r*(*n) + i); err != nil {
					mu.Lock()
					failed = append(failed, err.Error())
					mu.Unlock()
					return
				}
				ok.Add(1)
			}()
		}
		close(start)
		wg.Wait()
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", g.cmd.Process.Pid))
		log.Printf("round %d: %d downloads on %d open connections in %v; portico holds %d file descriptors, RSS %d MiB",
			r+1, *n-len(dialErrs), *n-len(dialErrs), time.Since(t).Round(time.Millisecond), len(fds), g.rss()>>10)
	}
	counted := g.mustMetric(`portico_requests_total{kind="file",outcome="redirect",status="307"`)
	log.Printf("sent %d downloads on %d connections: %d answered 307, %d failed, %d dials failed; portico counted %.0f",
		sent.Load(), *n, ok.Load(), len(failed), len(dialErrs), counted)
	log.Printf("portico RSS: %d MiB idle before, peak %d MiB with %d connections", rss0>>10, g.hwm()>>10, *n)
	if len(failed) > 0 || len(dialErrs) > 0 {
		return fmt.Errorf("failed requests: %s\nfailed dials: %s", summarize(failed), summarize(dialErrs))
	}
	if int64(counted) != sent.Load() {
		return fmt.Errorf("portico counted %.0f downloads, %d were sent", counted, sent.Load())
	}
	return g.stop()
}

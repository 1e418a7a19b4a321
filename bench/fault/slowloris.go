package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// slowloris measures the latency of normal clients with and without many
// slow clients that dribble their request headers, in one run: quiet,
// under attack, quiet again. The target is a p99 under attack within 2×
// the quiet runs'.
func slowloris(args []string) error {
	fs := flag.NewFlagSet("slowloris", flag.ExitOnError)
	slow := fs.Int("slow", 2000, "slow clients held connected")
	phase := fs.Duration("phase", 20*time.Second, "length of each phase")
	workers := fs.Int("workers", 8, "normal clients, each on its own keep-alive connection")
	pause := fs.Duration("pause", 5*time.Millisecond, "pause between a normal client's requests")
	fs.Parse(args)

	dir := tempDir("slowloris")
	defer removeDir(dir)
	g, err := startGateway(dir, redirectManifest, "--data", "none", "--events", "stdout")
	if err != nil {
		return err
	}
	defer g.kill()

	measure := func(name string) *load {
		stop := make(chan struct{})
		l := startLoad(g.addr, *workers, *pause, stop)
		time.Sleep(*phase)
		close(stop)
		l.wait()
		log.Printf("%s: %d downloads, %d failed; p50 %v, p99 %v, max %v", name, l.ok, len(l.failed),
			percentile(l.latencies, 50), percentile(l.latencies, 99), percentile(l.latencies, 100))
		return l
	}
	quiet1 := measure("quiet")

	// The slow clients: each sends a request line and then one header
	// byte a second, and connects again as soon as the gateway cuts it
	// (at --header-timeout), so that *slow are always connected.
	stop := make(chan struct{})
	var open, cut, dialFails atomic.Int64
	var wg sync.WaitGroup
	for range *slow {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.Dial("tcp", g.addr)
				if err != nil {
					dialFails.Add(1)
					time.Sleep(100 * time.Millisecond)
					continue
				}
				open.Add(1)
				_, err = io.WriteString(c, "GET /dl/v1/linux HTTP/1.1\r\nHost: get.test\r\nX-Slow: ")
				t := time.NewTicker(time.Second)
				for err == nil {
					select {
					case <-stop:
						c.Close()
						t.Stop()
						open.Add(-1)
						return
					case <-t.C:
						_, err = c.Write([]byte("x"))
					}
				}
				t.Stop()
				c.Close()
				open.Add(-1)
				cut.Add(1)
			}
		}()
	}
	waitUntil(ctxBackground(), 30*time.Second, func() bool { return open.Load() >= int64(*slow) })
	log.Printf("%d slow clients connected", open.Load())
	attack := measure("with slow clients")
	log.Printf("slow clients: %d connected at the end, %d cut by the gateway, %d dials failed", open.Load(), cut.Load(), dialFails.Load())
	close(stop)
	wg.Wait()
	quiet2 := measure("quiet again")

	base := (percentile(quiet1.latencies, 99) + percentile(quiet2.latencies, 99)) / 2
	ratio := float64(percentile(attack.latencies, 99)) / float64(base)
	log.Printf("p99 with %d slow clients / p99 quiet (mean of both quiet phases): %.2f", *slow, ratio)
	log.Printf("p50 ratio: %.2f", float64(percentile(attack.latencies, 50))/
		float64((percentile(quiet1.latencies, 50)+percentile(quiet2.latencies, 50))/2))
	var failed []string
	for _, l := range []*load{quiet1, attack, quiet2} {
		failed = append(failed, l.failed...)
	}
	if len(failed) > 0 {
		return fmt.Errorf("normal clients' requests failed: %s", summarize(failed))
	}
	if ratio > 2 {
		return fmt.Errorf("p99 under attack is %.2f× the quiet p99, want at most 2×", ratio)
	}
	return g.stop()
}

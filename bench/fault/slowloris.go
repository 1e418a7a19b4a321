package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// slowloris measures the latency of normal clients with and without many
// slow clients that dribble their request headers, in one run: quiet and
// attack phases alternately. The target is a p99 under attack within 2×
// that of the quiet phases either side (the median of the rounds).
func slowloris(args []string) error {
	fs := flag.NewFlagSet("slowloris", flag.ExitOnError)
	slow := fs.Int("slow", 2000, "slow clients held connected")
	phase := fs.Duration("phase", 10*time.Second, "length of each phase")
	workers := fs.Int("workers", 8, "normal clients, each on its own keep-alive connection")
	pause := fs.Duration("pause", 5*time.Millisecond, "pause between a normal client's requests")
	rounds := fs.Int("rounds", 3, "attack phases, each between two quiet ones")
	rate := fs.Float64("rate", 200, "slow connections opened a second, as slowhttptest -r does")
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
	// Phases alternate, quiet first and last, so that each attack is
	// compared with the quiet phases either side of it: on a shared
	// machine the background load drifts during a run.
	cpu := func() float64 { return procCPU(g.cmd.Process.Pid) }
	var quiet, attacks []*load
	var quietCPU, attackCPU float64
	c0 := cpu()
	quiet = append(quiet, measure("quiet"))
	quietCPU += cpu() - c0
	for r := range *rounds {
		cmd := exec.Command(os.Args[0], "-portico", *portico, "slowclients", "-addr", g.addr, "-n", fmt.Sprint(*slow), "-rate", fmt.Sprint(*rate))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			return err
		}
		// All connected, and the first ones already cut and back.
		time.Sleep(time.Duration(float64(*slow)/(*rate)*float64(time.Second)) + 2*time.Second)
		c0 = cpu()
		attacks = append(attacks, measure(fmt.Sprintf("round %d, with %d slow clients", r+1, *slow)))
		attackCPU += cpu() - c0
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		c0 = cpu()
		quiet = append(quiet, measure("quiet"))
		quietCPU += cpu() - c0
	}
	var ratios []float64
	var failed []string
	for r, a := range attacks {
		base := (percentile(quiet[r].latencies, 99) + percentile(quiet[r+1].latencies, 99)) / 2
		ratios = append(ratios, float64(percentile(a.latencies, 99))/float64(base))
		failed = append(failed, a.failed...)
	}
	for _, q := range quiet {
		failed = append(failed, q.failed...)
	}
	sort.Float64s(ratios)
	median := ratios[len(ratios)/2]
	log.Printf("p99 with %d slow clients / p99 of the quiet phases either side, per round (sorted): %.2f; median %.2f", *slow, ratios, median)
	log.Printf("gateway CPU: %.2f s in %d quiet phases, %.2f s in %d attack phases (%.2f)", quietCPU, len(quiet), attackCPU, len(attacks),
		(attackCPU/float64(len(attacks)))/(quietCPU/float64(len(quiet))))
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		log.Printf("load average at the end: %s", strings.TrimSpace(string(la)))
	}
	if len(failed) > 0 {
		return fmt.Errorf("normal clients' requests failed: %s", summarize(failed))
	}
	if median > 2 {
		return fmt.Errorf("p99 under attack is %.2f× the quiet p99 (median of %d rounds), want at most 2×", median, len(ratios))
	}
	return g.stop()
}

// slowClients holds n connections to addr that dribble a request header,
// one byte a second, opening rate connections a second, and connects
// again each one the gateway cuts (at --header-timeout). It runs until
// interrupted, then prints what it did.
func slowClients(args []string) error {
	fs := flag.NewFlagSet("slowclients", flag.ExitOnError)
	addr := fs.String("addr", "", "gateway address")
	n := fs.Int("n", 2000, "slow connections")
	rate := fs.Float64("rate", 200, "connections opened a second")
	fs.Parse(args)
	var open, cut, dialFails atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	every := time.Duration(float64(time.Second) / *rate)
	for range *n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := net.Dial("tcp", *addr)
				if err != nil {
					dialFails.Add(1)
					select {
					case <-stop:
						return
					case <-time.After(100 * time.Millisecond):
					}
					continue
				}
				open.Add(1)
				_, err = io.WriteString(c, "GET /dl/v1/linux HTTP/1.1\r\nHost: get.test\r\nX-Slow: ")
				t := time.NewTicker(time.Second)
				for err == nil {
					select {
					case <-stop:
						err = net.ErrClosed
					case <-t.C:
						_, err = c.Write([]byte("x"))
					}
				}
				t.Stop()
				c.Close()
				open.Add(-1)
				select {
				case <-stop:
					return
				default:
					cut.Add(1)
				}
			}
		}()
		time.Sleep(every)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	<-sig
	log.Printf("slow clients: %d connected at the end, %d cut by the gateway (and connected again), %d dials failed", open.Load(), cut.Load(), dialFails.Load())
	close(stop)
	wg.Wait()
	return nil
}

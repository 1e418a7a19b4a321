package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// reloadManifest is redirectManifest with a docker proxy rule on up and
// a second file rule whose target names generation n.
func reloadManifest(up string, n int) string {
	return fmt.Sprintf(`{"rules":[
 {"type":"file-v1","domain":"get.test","incoming-path":"/dl/{version}/{os}","outgoing-url":"https://files.test/{version}/{os}","package-id":"bin"},
 {"type":"file-v1","domain":"get.test","incoming-path":"/gen/{x}","outgoing-url":"https://files.test/gen/%d/{x}","package-id":"gen"},
 {"type":"docker-v1","domain":"cr.test","repository-name":"acme/app","registry":"http://%s","package-id":"img","mode":"proxy"}]}`, n, up)
}

// reloadAndTerm rewrites the manifest under load, valid and invalid
// versions alternately, with SIGHUP after some of them, and requires
// every request answered; then sends SIGTERM under load, with slow
// proxied downloads in flight, and requires every request the gateway
// accepted answered in full: the only errors allowed are connections
// refused once the listener has closed. Every answered download must be
// among the events the gateway wrote before exiting.
func reloadAndTerm(args []string) error {
	fs := flag.NewFlagSet("reload", flag.ExitOnError)
	rewrites := fs.Int("rewrites", 100, "manifest rewrites")
	workers := fs.Int("workers", 8, "clients")
	slowN := fs.Int("slow", 8, "slow proxied downloads in flight at SIGTERM")
	fs.Parse(args)

	u, err := newFaultUpstream()
	if err != nil {
		return err
	}
	defer u.close()
	dir := tempDir("reload")
	defer removeDir(dir)
	g, err := startGateway(dir, reloadManifest(u.addr, 0), "--data", "none", "--events", "stdout", "--reload-interval", "100ms")
	if err != nil {
		return err
	}
	defer g.kill()
	mf := filepath.Join(dir, "manifest.json")

	// Part 1: reloads under load.
	stop := make(chan struct{})
	l := startLoad(g.addr, *workers, 0, stop)
	for i := 1; i <= *rewrites; i++ {
		body := reloadManifest(u.addr, i)
		if i%2 == 0 {
			body = strings.Replace(body, `"type":"file-v1"`, `"type":"file-v9"`, 1) // rejected
		}
		tmp := mf + ".tmp"
		if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, mf); err != nil {
			return err
		}
		if i%4 == 1 {
			_ = g.cmd.Process.Signal(syscall.SIGHUP)
		}
		time.Sleep(150 * time.Millisecond)
	}
	time.Sleep(time.Second)
	close(stop)
	l.wait()
	okReloads := g.mustMetric(`portico_config_reloads_total{result="ok"`)
	badReloads := g.mustMetric(`portico_config_reloads_total{result="error"`)
	gen := g.mustMetric("portico_config_generation")
	log.Printf("reloads: %d rewrites (half invalid), SIGHUP after every fourth; %.0f accepted, %.0f rejected, generation %.0f; %d downloads answered, %d failed",
		*rewrites, okReloads, badReloads, gen, l.ok, len(l.failed))
	var errs []string
	if len(l.failed) > 0 {
		errs = append(errs, "requests failed during reloads: "+summarize(l.failed))
	}
	if badReloads < float64(*rewrites/2) {
		errs = append(errs, fmt.Sprintf("only %.0f of %d invalid versions were rejected", badReloads, *rewrites/2))
	}
	answered := l.ok

	// Part 2: SIGTERM under load with slow downloads in flight.
	u.fault.Store(faultSlow)
	var slowWG sync.WaitGroup
	slowResults := make([]string, *slowN)
	c := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DisableCompression: true}}
	for i := range *slowN {
		slowWG.Add(1)
		go func() {
			defer slowWG.Done()
			o, d := fetch(c, "http://"+g.addr+"/v2/acme/app/blobs/"+u.digest(), "cr.test", func(b []byte) bool { return bytes.Equal(b, u.blob) })
			slowResults[i] = string(o) + ": " + d
		}()
	}
	stop = make(chan struct{})
	l = startLoad(g.addr, *workers, 0, stop)
	time.Sleep(time.Second) // the slow downloads are a third through
	termAt := time.Now()
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	<-g.done
	exitAfter := time.Since(termAt)
	close(stop)
	l.wait()
	slowWG.Wait()
	var refused, other []string
	for _, e := range l.failed {
		if strings.Contains(e, "connection refused") {
			refused = append(refused, e)
		} else {
			other = append(other, e)
		}
	}
	log.Printf("SIGTERM under load: exited (%v) %v after the signal; %d downloads answered, %d refused once the listener closed, %d other errors",
		g.err, exitAfter.Round(time.Millisecond), l.ok, len(refused), len(other))
	slowOK := 0
	for _, r := range slowResults {
		if strings.HasPrefix(r, string(gotComplete)) {
			slowOK++
		} else {
			errs = append(errs, "a proxied download in flight at SIGTERM: "+r)
		}
	}
	log.Printf("proxied downloads in flight at SIGTERM (3.2s each, 1s in): %d of %d complete and correct", slowOK, *slowN)
	if g.err != nil {
		errs = append(errs, fmt.Sprintf("portico exited with %v", g.err))
	}
	if len(other) > 0 {
		errs = append(errs, "requests failed at SIGTERM other than refused connections: "+summarize(other))
	}
	answered += l.ok + slowOK

	// Every answered download was written out as an event.
	events := 0
	f, err := os.Open(g.stdout.Name())
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if bytes.Contains(sc.Bytes(), []byte(`"status":307`)) || bytes.Contains(sc.Bytes(), []byte(`"kind":"docker`)) {
			events++
		}
	}
	f.Close()
	log.Printf("events written: %d; downloads answered: %d", events, answered)
	if events != answered {
		errs = append(errs, fmt.Sprintf("%d events written for %d answered downloads", events, answered))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

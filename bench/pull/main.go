// Command pull is the registry client of bench/docker-proxy.sh: it
// downloads one blob as OCI clients do, hashing the bytes as they arrive
// and checking them against the digest in the URL, and prints the
// throughput in bytes per second.
//
//	pull [-host bench.test] http://127.0.0.1:5000/v2/acme/big/blobs/sha256:…
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	host := flag.String("host", "", "Host header to send (default: the URL's)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: pull [-host HOST] URL")
		os.Exit(2)
	}
	url := flag.Arg(0)
	i := strings.LastIndex(url, "/sha256:")
	if i < 0 {
		log.Fatalf("%s: no sha256 digest at the end of the path", url)
	}
	want := url[i+len("/sha256:"):]

	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		log.Fatal(err)
	}
	if *host != "" {
		req.Host = *host
	}
	req.Header.Set("User-Agent", "bench-pull")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		log.Fatalf("GET %s: %s", url, resp.Status)
	}
	h := sha256.New()
	// 1 MiB reads, about what containerd and go-containerregistry use.
	n, err := io.CopyBuffer(h, resp.Body, make([]byte, 1<<20))
	if err != nil {
		log.Fatalf("GET %s: after %d bytes: %v", url, n, err)
	}
	took := time.Since(start)
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		log.Fatalf("GET %s: body has digest sha256:%s", url, got)
	}
	fmt.Printf("%.0f\n", float64(n)/took.Seconds())
}

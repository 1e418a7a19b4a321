// Command blobserver answers every registry blob request with one large
// blob generated in memory from a 1 MiB block, as fast as net/http can
// send it. bench/docker-proxy.sh downloads from it directly and through
// Portico.
package main

import (
	"crypto/rand"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:0", "listen address")
	size := flag.Int64("size", 1<<30, "blob size in bytes")
	flag.Parse()
	block := make([]byte, 1<<20)
	if _, err := rand.Read(block); err != nil {
		log.Fatal(err)
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintln(os.Stdout, l.Addr().String())
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.FormatInt(*size, 10))
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Docker-Content-Digest", "sha256:0000000000000000000000000000000000000000000000000000000000000000")
		if r.Method == http.MethodHead {
			return
		}
		for left := *size; left > 0; {
			n := min(left, int64(len(block)))
			if _, err := w.Write(block[:n]); err != nil {
				return
			}
			left -= n
		}
	})
	log.Fatal(http.Serve(l, h))
}

// Command bare is the "bare net/http" baseline of bench/redirect.sh: the
// benchmark's redirect written directly on net/http with fmt and strings,
// no Portico code, no logging. It shows what the Go HTTP stack alone costs
// per request on the machine the benchmark runs on.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
)

const suffix = "/rocket-skates.tar.gz"

func redirect(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "bench.test" && strings.HasPrefix(r.URL.Path, "/") && strings.HasSuffix(r.URL.Path, suffix) {
		rest := strings.TrimSuffix(r.URL.Path[1:], suffix)
		version, osName, ok := strings.Cut(rest, "/")
		if ok && version != "" && osName != "" && !strings.Contains(osName, "/") {
			w.Header().Set("Location", fmt.Sprintf("https://downloads.example.com/rocket-skates/%s/rocket-skates-%s.tar.gz", version, osName))
			w.WriteHeader(http.StatusTemporaryRedirect)
			return
		}
	}
	http.NotFound(w, r)
}

func main() {
	addr := flag.String("listen", "127.0.0.1:8080", "listen `address`")
	flag.Parse()
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(redirect)))
}

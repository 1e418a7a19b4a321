// Command revproxy is the proxy baseline of bench/docker-proxy.sh: a plain
// httputil.ReverseProxy in front of one backend.
package main

import (
	"flag"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "listen address")
	backend := flag.String("backend", "", "backend URL")
	flag.Parse()
	u, err := url.Parse(*backend)
	if err != nil || u.Host == "" {
		log.Fatalf("bad -backend %q", *backend)
	}
	log.Fatal(http.ListenAndServe(*listen, httputil.NewSingleHostReverseProxy(u)))
}

// Command plainmatch is the baseline of bench/manyrules: the file-v1
// rules of a manifest served by a plain Go program, with encoding/json,
// a map of hosts and a template matcher for {name} variables, and no
// Portico code. It shows what holding and serving the same rules costs
// without Portico's generality (every rule kind, RFC 6570, indexes, the
// control plane).
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
)

// part is a literal, or a variable when name is set.
type part struct{ lit, name string }

type rule struct {
	in, out []part
	id      string
}

// parse splits a template of literals and {name} variables.
func parse(t string) []part {
	var parts []part
	for t != "" {
		i := strings.IndexByte(t, '{')
		if i < 0 {
			return append(parts, part{lit: t})
		}
		if i > 0 {
			parts = append(parts, part{lit: t[:i]})
		}
		j := strings.IndexByte(t[i:], '}')
		if j < 0 {
			log.Fatalf("unclosed '{' in %q", t)
		}
		parts = append(parts, part{name: t[i+1 : i+j]})
		t = t[i+j+1:]
	}
	return parts
}

// match binds the variables of parts in path: a variable takes the text
// up to the next literal (or to the end), without a '/'.
func match(parts []part, path string, vars map[string]string) bool {
	for k, p := range parts {
		if p.name == "" {
			if !strings.HasPrefix(path, p.lit) {
				return false
			}
			path = path[len(p.lit):]
			continue
		}
		end := len(path)
		if k+1 < len(parts) {
			end = strings.Index(path, parts[k+1].lit)
			if end < 0 {
				return false
			}
		}
		v := path[:end]
		if v == "" || strings.Contains(v, "/") {
			return false
		}
		vars[p.name] = v
		path = path[end:]
	}
	return path == ""
}

func expand(parts []part, vars map[string]string) string {
	var b strings.Builder
	for _, p := range parts {
		if p.name == "" {
			b.WriteString(p.lit)
		} else {
			b.WriteString(vars[p.name])
		}
	}
	return b.String()
}

func main() {
	addr := flag.String("listen", "127.0.0.1:8080", "listen `address`")
	path := flag.String("manifest", "manifest.json", "manifest `file` of file-v1 rules")
	flag.Parse()
	data, err := os.ReadFile(*path)
	if err != nil {
		log.Fatal(err)
	}
	var m struct {
		Rules []struct {
			Type         string `json:"type"`
			Domain       string `json:"domain"`
			IncomingPath string `json:"incoming-path"`
			OutgoingURL  string `json:"outgoing-url"`
			PackageID    string `json:"package-id"`
		} `json:"rules"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		log.Fatal(err)
	}
	data = nil
	hosts := map[string][]rule{}
	for _, r := range m.Rules {
		if r.Type != "file-v1" {
			log.Fatalf("rule type %s: only file-v1 rules are served", r.Type)
		}
		h := strings.ToLower(r.Domain)
		hosts[h] = append(hosts[h], rule{in: parse(r.IncomingPath), out: parse(r.OutgoingURL), id: r.PackageID})
	}
	m.Rules = nil
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		host := req.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		vars := map[string]string{}
		for _, r := range hosts[strings.ToLower(host)] {
			clear(vars)
			if match(r.in, req.URL.EscapedPath(), vars) {
				w.Header().Set("Location", expand(r.out, vars))
				w.WriteHeader(http.StatusTemporaryRedirect)
				return
			}
		}
		http.NotFound(w, req)
	})))
}

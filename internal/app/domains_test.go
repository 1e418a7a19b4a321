package app

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"

	"portico/internal/control"
)

// dnsServer is a DNS server on 127.0.0.1 that answers TXT queries from a
// table the test changes.
type dnsServer struct {
	addr string
	mu   sync.Mutex
	txt  map[string]string // fully qualified name → value
}

func newDNSServer(t *testing.T) *dnsServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dnsServer{addr: pc.LocalAddr().String(), txt: map[string]string{}}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		for _, question := range q.Question {
			s.mu.Lock()
			v, ok := s.txt[strings.ToLower(question.Name)]
			s.mu.Unlock()
			if ok && question.Qtype == dns.TypeTXT {
				m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: question.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 1}, Txt: []string{v}})
			}
		}
		if len(m.Answer) == 0 {
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return s
}

func (s *dnsServer) setTXT(name, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.txt[dns.Fqdn(strings.ToLower(name))] = value
}

// TestDomainVerification adds a custom domain through the API, verifies
// it against a local DNS server, and serves a package on it; a domain
// that stops routing answers 404 on the gateway.
func TestDomainVerification(t *testing.T) {
	ns := newDNSServer(t)
	cfg := testConfig(t)
	cfg.Control.DNSResolver = ns.addr
	a := startApp(t, cfg)
	tok, org := adminToken(t, a.App, "ops@acme.test")
	const host = "get.acme.test"
	gw := a.gw.Addr().String()

	st, body := call(t, a.App, tok, "POST", "/api/v1/domains", map[string]any{"org": org, "name": host})
	if st != http.StatusCreated {
		t.Fatalf("add domain = %d %s", st, body)
	}
	var d struct {
		Status  string `json:"status"`
		Records []struct{ Type, Name, Value string }
	}
	if err := json.Unmarshal(body, &d); err != nil || d.Status != "pending" || len(d.Records) != 1 || d.Records[0].Type != "TXT" || d.Records[0].Name != control.ChallengeLabel+"."+host {
		t.Fatalf("new domain = %s (%v), want pending with one TXT record", body, err)
	}
	pkg := map[string]any{"org": org, "name": "rocket", "rule": fileRule(host, "dl.test")}
	if st, body := call(t, a.App, tok, "POST", "/api/v1/packages", pkg); st != http.StatusBadRequest || !strings.Contains(string(body), "rule.domain") {
		t.Fatalf("package on a pending domain = %d %s, want 400 on rule.domain", st, body)
	}

	// The wrong value does not verify; the right one does.
	ns.setTXT(control.ChallengeLabel+"."+host, "not-the-token")
	if st, body = call(t, a.App, tok, "POST", "/api/v1/domains/"+host+"/verify", nil); st != http.StatusOK || !strings.Contains(string(body), `"status":"pending"`) {
		t.Fatalf("verify with a wrong record = %d %s, want still pending", st, body)
	}
	ns.setTXT(control.ChallengeLabel+"."+host, d.Records[0].Value)
	if st, body = call(t, a.App, tok, "POST", "/api/v1/domains/"+host+"/verify", nil); st != http.StatusOK || !strings.Contains(string(body), `"status":"verified"`) {
		t.Fatalf("verify = %d %s, want verified", st, body)
	}
	if st, body := call(t, a.App, tok, "POST", "/api/v1/packages", pkg); st != http.StatusCreated {
		t.Fatalf("package on the verified domain = %d %s", st, body)
	}
	if st, loc := download(t, gw, host, "/rocket/1.tar.gz"); st != http.StatusTemporaryRedirect || loc != "https://dl.test/1.tar.gz" {
		t.Fatalf("download on the verified domain: %d %q", st, loc)
	}

	// A domain that failed its checks past the grace period is pending
	// again: its packages stay, and answer nothing.
	err := a.control.store.Update(t.Context(), func(tx control.Tx) error {
		d, err := tx.Domain(t.Context(), host)
		if err != nil {
			return err
		}
		d.Status = control.DomainPending
		tx.RoutingChanged()
		return tx.UpdateDomain(t.Context(), d)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.loader.ReloadSource(a.control.source); err != nil {
		t.Fatal(err)
	}
	if st, _ := download(t, gw, host, "/rocket/1.tar.gz"); st != http.StatusNotFound {
		t.Fatalf("download on a domain no longer verified: %d, want 404", st)
	}
}

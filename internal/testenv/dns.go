package testenv

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// A DNSServer answers DNS queries on 127.0.0.1 from records the test
// sets, so that domain verification and an ACME server's validation run
// against a real resolver without leaving the machine. It answers TXT
// queries from its TXT records, A and AAAA queries from its address
// records, and A, AAAA and CNAME queries for a name with a CNAME record
// with that record (which is how Go's resolver finds a CNAME). Every
// other name does not exist. While failing, every query gets SERVFAIL,
// as from a resolver that is down.
type DNSServer struct {
	// Addr is the server's host:port (UDP).
	Addr string

	mu      sync.Mutex
	txt     map[string][]string // fully qualified lower-case name → values
	cname   map[string]string   // fully qualified lower-case name → target
	addrs   map[string][]net.IP // fully qualified lower-case name → addresses
	failing bool
}

// NewDNSServer starts a DNS server on a free port of 127.0.0.1, over UDP
// and TCP (which some resolvers, ACME servers' among them, use). It
// stops when the test ends.
func NewDNSServer(t testing.TB) *DNSServer {
	t.Helper()
	pc, ln := listenUDPAndTCP(t)
	s := &DNSServer{Addr: pc.LocalAddr().String(), txt: map[string][]string{}, cname: map[string]string{}, addrs: map[string][]net.IP{}}
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: dns.HandlerFunc(s.answer)}, {Listener: ln, Handler: dns.HandlerFunc(s.answer)}} {
		go func() { _ = srv.ActivateAndServe() }()
		t.Cleanup(func() { _ = srv.Shutdown() })
	}
	return s
}

// listenUDPAndTCP binds a free UDP port of 127.0.0.1 and the same port
// over TCP, trying other ports while the TCP one is taken.
func listenUDPAndTCP(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln
		}
		pc.Close()
	}
	t.Fatal("no port of 127.0.0.1 free for both UDP and TCP")
	return nil, nil
}

func (s *DNSServer) answer(w dns.ResponseWriter, q *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(q)
	s.mu.Lock()
	failing := s.failing
	for _, question := range q.Question {
		name := strings.ToLower(question.Name)
		hdr := dns.RR_Header{Name: question.Name, Class: dns.ClassINET, Ttl: 1}
		switch target, ok := s.cname[name]; {
		case ok && (question.Qtype == dns.TypeA || question.Qtype == dns.TypeAAAA || question.Qtype == dns.TypeCNAME):
			hdr.Rrtype = dns.TypeCNAME
			m.Answer = append(m.Answer, &dns.CNAME{Hdr: hdr, Target: target})
		case question.Qtype == dns.TypeTXT && len(s.txt[name]) > 0:
			hdr.Rrtype = dns.TypeTXT
			for _, v := range s.txt[name] {
				m.Answer = append(m.Answer, &dns.TXT{Hdr: hdr, Txt: []string{v}})
			}
		case question.Qtype == dns.TypeA || question.Qtype == dns.TypeAAAA:
			hdr.Rrtype = question.Qtype
			for _, ip := range s.addrs[name] {
				switch v4 := ip.To4(); {
				case v4 != nil && question.Qtype == dns.TypeA:
					m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: v4})
				case v4 == nil && question.Qtype == dns.TypeAAAA:
					m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr, AAAA: ip})
				}
			}
		}
	}
	s.mu.Unlock()
	switch {
	case failing:
		m.Answer, m.Rcode = nil, dns.RcodeServerFailure
	case len(m.Answer) == 0:
		m.Rcode = dns.RcodeNameError
	}
	_ = w.WriteMsg(m)
}

// SetTXT sets the TXT record of name to values; none removes it.
func (s *DNSServer) SetTXT(name string, values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.txt[dns.Fqdn(strings.ToLower(name))] = values
}

// SetCNAME makes name a CNAME of target; "" removes the record.
func (s *DNSServer) SetCNAME(name, target string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name = dns.Fqdn(strings.ToLower(name))
	if target == "" {
		delete(s.cname, name)
		return
	}
	s.cname[name] = dns.Fqdn(target)
}

// SetAddrs sets the addresses of name, answered to A (IPv4) and AAAA
// (IPv6) queries; none removes them.
func (s *DNSServer) SetAddrs(name string, addrs ...netip.Addr) {
	ips := make([]net.IP, 0, len(addrs))
	for _, a := range addrs {
		ips = append(ips, net.IP(a.Unmap().AsSlice()))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addrs[dns.Fqdn(strings.ToLower(name))] = ips
}

// SetFailing makes every answer SERVFAIL (true) or the records again
// (false).
func (s *DNSServer) SetFailing(failing bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = failing
}

// Resolver returns a resolver that asks this server only.
func (s *DNSServer) Resolver() *net.Resolver {
	var d net.Dialer
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, s.Addr)
	}}
}

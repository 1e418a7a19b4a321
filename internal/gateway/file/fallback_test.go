package file

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"portico/internal/gateway"
	"portico/internal/manifest"
	"portico/internal/upstream"
)

// TestFallbackRedirects serves file-v1 and file-v2 rules whose hosts are
// real servers: redirects go to the outgoing URL while its host answers
// probes, to the fallback once it failed enough of them (503, then
// stopped), and back when it answers again.
func TestFallbackRedirects(t *testing.T) {
	var failing atomic.Bool
	primary := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNotFound) // a host that answers is up, whatever its root says
	}))
	defer primary.Close()
	mirror := httptest.NewServer(http.NotFoundHandler())
	defer mirror.Close()

	tr := upstream.NewTransport(upstream.Options{})
	defer tr.CloseIdleConnections()
	health := upstream.NewHealth(tr, upstream.HealthOptions{Threshold: 2, Interval: -1})
	m, err := manifest.Decode("t.json", []byte(`{"rules":[
		{"type":"file-v1","domain":"a.test","incoming-path":"/{v}/x.tgz","outgoing-url":"`+primary.URL+`/dl/{v}/x.tgz","fallback":"`+mirror.URL+`/mirror/x-{v}.tgz","package-id":"p"},
		{"type":"file-v2","domain":"a.test","incoming-path":"^/re/(?<v>[0-9.]+)$","outgoing-url":"`+primary.URL+`/re/{v}","fallback":"`+mirror.URL+`/m/{v}","package-id":"q"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	v1 := NewV1(m.Rules[0].(*manifest.FileV1))
	v1.SetFallback(health)
	v2 := NewV2(m.Rules[1].(*manifest.FileV2))
	v2.SetFallback(m.Rules[1].(*manifest.FileV2), health)

	check := func(step, want1, want2 string) {
		t.Helper()
		w, ok := serve(t, v1, "/1.2/x.tgz?arch=amd64")
		if !ok || w.Code != http.StatusTemporaryRedirect || w.Header().Get("Location") != want1 {
			t.Fatalf("%s: file-v1 answered %d %q, want 307 to %q", step, w.Code, w.Header().Get("Location"), want1)
		}
		w, ok = serve(t, v2, "/re/3.4")
		if !ok || w.Code != http.StatusTemporaryRedirect || w.Header().Get("Location") != want2 {
			t.Fatalf("%s: file-v2 answered %d %q, want 307 to %q", step, w.Code, w.Header().Get("Location"), want2)
		}
	}
	toPrimary1, toPrimary2 := primary.URL+"/dl/1.2/x.tgz?arch=amd64", primary.URL+"/re/3.4"
	toMirror1, toMirror2 := mirror.URL+"/mirror/x-1.2.tgz?arch=amd64", mirror.URL+"/m/3.4"

	ctx := context.Background()
	health.ProbeAll(ctx)
	check("both up", toPrimary1, toPrimary2)
	failing.Store(true)
	health.ProbeAll(ctx)
	check("one failed probe", toPrimary1, toPrimary2)
	health.ProbeAll(ctx)
	check("two failed probes", toMirror1, toMirror2)
	failing.Store(false)
	health.ProbeAll(ctx)
	check("recovered", toPrimary1, toPrimary2)

	// A stopped host: connections refused.
	primary.Close()
	health.ProbeAll(ctx)
	health.ProbeAll(ctx)
	check("stopped", toMirror1, toMirror2)
	// With the fallback down too, the rule's own URL is the best bet.
	mirror.Close()
	health.ProbeAll(ctx)
	health.ProbeAll(ctx)
	check("both down", toPrimary1, toPrimary2)
}

// TestFallbackWithoutHealth checks that a rule compiled without a health
// keeper redirects to its outgoing URL, as one without a fallback does.
func TestFallbackWithoutHealth(t *testing.T) {
	m, err := manifest.Decode("t.json", []byte(`{"rules":[{"type":"file-v1","domain":"a.test","incoming-path":"/{v}/x.tgz","outgoing-url":"https://a.example/{v}","fallback":"https://b.example/{v}","package-id":"p"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	v := NewV1(m.Rules[0].(*manifest.FileV1))
	v.SetFallback(nil)
	w, ok := serve(t, v, "/1/x.tgz")
	if !ok || w.Header().Get("Location") != "https://a.example/1" {
		t.Fatalf("answered %d %q", w.Code, w.Header().Get("Location"))
	}
}

// BenchmarkFallbackRedirect serves a file-v1 redirect from a rule without
// a fallback (the baseline), from one with a fallback while its host is
// up, and from one while its host is down (redirecting to the fallback).
func BenchmarkFallbackRedirect(b *testing.B) {
	const in, out, fb = "/{v}/x.tgz", "https://a.example/dl/{v}/x.tgz", "https://b.example/m/{v}/x.tgz"
	decode := func(extra string) *manifest.FileV1 {
		m, err := manifest.Decode("t.json", []byte(`{"rules":[{"type":"file-v1","domain":"a.test","incoming-path":"`+in+`","outgoing-url":"`+out+`"`+extra+`,"package-id":"p"}]}`))
		if err != nil {
			b.Fatal(err)
		}
		return m.Rules[0].(*manifest.FileV1)
	}
	health := upstream.NewHealth(nil, upstream.HealthOptions{Threshold: 1, Interval: -1})
	plain := NewV1(decode(""))
	up := NewV1(decode(`,"fallback":"` + fb + `"`))
	up.SetFallback(health)
	down := NewV1(decode(`,"fallback":"` + fb + `"`))
	down.SetFallback(health)
	for _, c := range []struct {
		name string
		rule *V1
		down bool
	}{{"plain", plain, false}, {"fallback-up", up, false}, {"fallback-active", down, true}} {
		b.Run(c.name, func(b *testing.B) {
			s, _ := health.Watch("https://a.example", "")
			if c.down {
				s.Failure()
			} else {
				s.Success()
			}
			r := httptest.NewRequest("GET", "http://a.test/", nil)
			r.RequestURI = "/1.2.3/x.tgz"
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				req := gateway.NewRequest(r, "a.test")
				if _, ok := c.rule.Serve(w, req); !ok {
					b.Fatal("no match")
				}
				req.Free()
			}
		})
	}
}

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

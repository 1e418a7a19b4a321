package app

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"portico/internal/testenv"
)

// otlpReceiver is an OTLP/HTTP trace receiver: it decodes the protobuf
// exports the gateway posts to /v1/traces and keeps their spans, and
// every body as received, for the test to read.
type otlpReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	spans  []*tracepb.Span
	bodies [][]byte
	res    []*commonpb.KeyValue
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	rc := &otlpReceiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("receiver got %s %s (%s), want a protobuf POST to /v1/traces", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
			http.Error(w, "not an OTLP/HTTP trace export", http.StatusBadRequest)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		data, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(data, &req); err != nil {
			t.Errorf("undecodable export: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.bodies = append(rc.bodies, data)
		for _, rs := range req.GetResourceSpans() {
			rc.res = rs.GetResource().GetAttributes()
			for _, ss := range rs.GetScopeSpans() {
				rc.spans = append(rc.spans, ss.GetSpans()...)
			}
		}
		rc.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *otlpReceiver) received() ([]*tracepb.Span, [][]byte) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*tracepb.Span(nil), rc.spans...), append([][]byte(nil), rc.bodies...)
}

func attr(kvs []*commonpb.KeyValue, key string) (string, bool) {
	for _, kv := range kvs {
		if kv.GetKey() == key {
			v := kv.GetValue()
			if s, ok := v.GetValue().(*commonpb.AnyValue_StringValue); ok {
				return s.StringValue, true
			}
			if i, ok := v.GetValue().(*commonpb.AnyValue_IntValue); ok {
				return strconv.FormatInt(i.IntValue, 10), true
			}
			return v.String(), true
		}
	}
	return "", false
}

// TestTracesOverOTLP serves a proxied registry request and a download
// with traces on, sends them to a real OTLP/HTTP receiver, and checks the
// spans it decodes: the request's server span continues the trusted
// proxy's trace, the upstream call is its child and the only one the
// registry was told of (traceparent), and the store's batch has a span
// of its own.
func TestTracesOverOTLP(t *testing.T) {
	rcv := newOTLPReceiver(t)
	var regMu sync.Mutex
	var regTraceparent []string
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		regMu.Lock()
		regTraceparent = append(regTraceparent, r.Header.Get("Traceparent"))
		regMu.Unlock()
		if r.URL.Path != "/v2/acme/app/manifests/1" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		w.Header().Set("Docker-Content-Digest", "sha256:"+strings.Repeat("a", 64))
		_, _ = io.WriteString(w, `{"schemaVersion":2}`)
	}))
	t.Cleanup(reg.Close)

	cfg := testConfig(t)
	manifest := `{"rules":[` +
		`{"type":"file-v1","domain":"a.test","incoming-path":"/dl/{file}","outgoing-url":"https://dl.test/{file}","package-id":"p"},` +
		`{"type":"docker-v2","domain":"cr.test","pattern":"acme/*","registry":"` + reg.URL + `","rule-id":"r","mode":"proxy"}]}`
	if err := os.WriteFile(cfg.Manifest, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.OTLPEndpoint = rcv.URL
	cfg.Version = "v9.9.9-test"
	a, err := New(t.Context(), cfg, &testenv.Buffer{}, newTestLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()

	const proxyTrace, proxySpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, _ := http.NewRequest("GET", "http://"+a.gw.Addr().String()+"/v2/acme/app/manifests/1", nil)
	req.Host = "cr.test"
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
	// The test's loopback address is a trusted proxy by default.
	req.Header.Set("Traceparent", "00-"+proxyTrace+"-"+proxySpan+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `{"schemaVersion":2}` {
		t.Fatalf("proxied manifest: %d %q", resp.StatusCode, body)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ = http.NewRequest("GET", "http://"+a.gw.Addr().String()+"/dl/x.tar.gz", nil)
	req.Host = "a.test"
	if resp, err := noRedirect.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	// The upstream call is in the metrics too, under the rule's backend.
	mresp, err := http.Get("http://" + a.ops.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	backend := strings.TrimPrefix(reg.URL, "http://")
	for _, want := range []string{
		`portico_upstream_requests_total{backend="` + backend + `",dest="backend",result="2xx"} 1`,
		`portico_upstream_request_duration_seconds_count{backend="` + backend + `",dest="backend"} 1`,
		`portico_upstream_in_flight{backend="` + backend + `"} 0`,
		`portico_store_lag_seconds `,
		`portico_requests_total{kind="docker",outcome="proxy",status="200"} 1`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	spans, bodies := rcv.received()
	if len(bodies) == 0 {
		t.Fatal("the receiver got no export")
	}
	byName := map[string][]*tracepb.Span{}
	for _, s := range spans {
		byName[s.GetName()] = append(byName[s.GetName()], s)
	}
	one := func(name string) *tracepb.Span {
		t.Helper()
		if len(byName[name]) != 1 {
			var names []string
			for n := range byName {
				names = append(names, n)
			}
			t.Fatalf("%d spans named %q, want 1; spans: %v", len(byName[name]), name, names)
		}
		return byName[name][0]
	}
	server := one("GET docker")
	client := one("upstream GET")
	file := one("GET file")
	if server.GetKind() != tracepb.Span_SPAN_KIND_SERVER || client.GetKind() != tracepb.Span_SPAN_KIND_CLIENT {
		t.Errorf("kinds: request %v, upstream %v", server.GetKind(), client.GetKind())
	}
	if got := hex.EncodeToString(server.GetTraceId()); got != proxyTrace {
		t.Errorf("request span trace %s, want the trusted proxy's %s", got, proxyTrace)
	}
	if got := hex.EncodeToString(server.GetParentSpanId()); got != proxySpan {
		t.Errorf("request span parent %s, want the proxy's span %s", got, proxySpan)
	}
	if !bytes.Equal(client.GetTraceId(), server.GetTraceId()) || !bytes.Equal(client.GetParentSpanId(), server.GetSpanId()) {
		t.Errorf("upstream span (trace %x, parent %x) is not a child of the request span (trace %x, id %x)",
			client.GetTraceId(), client.GetParentSpanId(), server.GetTraceId(), server.GetSpanId())
	}
	if len(file.GetParentSpanId()) != 0 {
		t.Errorf("a request without traceparent has parent %x, want a root span", file.GetParentSpanId())
	}
	for span, want := range map[*tracepb.Span]map[string]string{
		server: {"portico.kind": "docker", "portico.outcome": "proxy", "server.address": "cr.test", "url.path": "/v2/acme/app/manifests/1"},
		client: {"portico.backend": strings.TrimPrefix(reg.URL, "http://"), "portico.upstream.dest": "backend", "url.path": "/v2/acme/app/manifests/1"},
		file:   {"portico.kind": "file", "portico.outcome": "redirect"},
	} {
		for k, v := range want {
			if got, _ := attr(span.GetAttributes(), k); got != v {
				t.Errorf("span %q: %s = %q, want %q", span.GetName(), k, got, v)
			}
		}
	}
	regMu.Lock()
	sent := append([]string(nil), regTraceparent...)
	regMu.Unlock()
	wantTP := "00-" + proxyTrace + "-" + hex.EncodeToString(client.GetSpanId()) + "-01"
	if len(sent) != 1 || sent[0] != wantTP {
		t.Errorf("the registry was sent traceparent %q, want [%s]: the upstream span's context", sent, wantTP)
	}
	var stored int
	for _, s := range byName["store append"] {
		if len(s.GetParentSpanId()) != 0 {
			t.Errorf("store append span has parent %x, want a root: a batch holds many requests", s.GetParentSpanId())
		}
		if v, _ := attr(s.GetAttributes(), "portico.events"); v != "" && v != "0" {
			stored++
		}
	}
	if stored == 0 {
		t.Errorf("no store append span with portico.events among %d spans", len(spans))
	}
	rcv.mu.Lock()
	res := rcv.res
	rcv.mu.Unlock()
	if v, _ := attr(res, "service.name"); v != "portico" {
		t.Errorf("service.name = %q", v)
	}
	if v, _ := attr(res, "service.version"); v != "v9.9.9-test" {
		t.Errorf("service.version = %q", v)
	}
}

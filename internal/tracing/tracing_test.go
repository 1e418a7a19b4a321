package tracing

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestOffIsNil(t *testing.T) {
	var tr *Tracing
	if tr.Tracer("x") != nil {
		t.Error("a nil Tracing gave a tracer: the parts would trace")
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
}

// TestExportsToEndpoint: spans go to ENDPOINT/v1/traces as protobuf,
// at the latest when Shutdown flushes them; a receiver that is down
// fails no caller.
func TestExportsToEndpoint(t *testing.T) {
	var posts atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/v1/traces" && r.Header.Get("Content-Type") == "application/x-protobuf" && len(b) > 0 {
			posts.Add(1)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer rcv.Close()
	tr, err := New(t.Context(), Config{Endpoint: rcv.URL + "/", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tr.Tracer("test").Start(context.Background(), "work")
	span.End()
	if err := tr.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if posts.Load() == 0 {
		t.Error("no protobuf export reached /v1/traces")
	}

	rcv.Close()
	down, err := New(t.Context(), Config{Endpoint: rcv.URL})
	if err != nil {
		t.Fatalf("a receiver that is down stopped the start: %v", err)
	}
	_, span = down.Tracer("test").Start(context.Background(), "lost")
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = down.Shutdown(ctx) // the export fails; nothing else may
}

package blobcache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// BenchmarkMiss measures a miss of a 64 MiB object against the same
// object proxied with a plain copy, from the same upstream in memory.
// Beside the wall-clock time it reports the CPU time of the process
// (upstream and client included, the same in both) per MiB sent, which
// other processes on a shared machine do not inflate. The cache's
// directory is the test's temporary one: TMPDIR on a tmpfs takes the
// disk out of the measure.
func BenchmarkMiss(b *testing.B) {
	const size = 64 << 20
	body := make([]byte, size)
	for i := range body {
		body[i] = byte(i * 7)
	}
	sum := sha256.Sum256(body)
	d, _ := ParseHex("sha256", hex.EncodeToString(sum[:]))
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		_, _ = w.Write(body)
	}))
	defer up.Close()
	fetch := func(ctx context.Context) (io.ReadCloser, int64, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, up.URL, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, 0, err
		}
		return resp.Body, resp.ContentLength, nil
	}
	var cpu time.Duration
	cpuOK := true
	get := func(b *testing.B, url string) {
		cpu0, ok := cpuTime()
		cpuOK = cpuOK && ok
		defer func() {
			cpu1, _ := cpuTime()
			cpu += cpu1 - cpu0
		}()
		resp, err := http.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if n != size {
			b.Fatalf("%d bytes", n)
		}
	}
	b.Run("proxy", func(b *testing.B) {
		front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rc, n, _ := fetch(r.Context())
			defer rc.Close()
			w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
			buf := make([]byte, 1<<20)
			_, _ = io.CopyBuffer(writerOnly{w}, rc, buf)
		}))
		defer front.Close()
		b.SetBytes(size)
		cpu, cpuOK = 0, true
		for b.Loop() {
			get(b, front.URL)
		}
		reportCPU(b, cpu, cpuOK, size)
	})
	b.Run("miss", func(b *testing.B) {
		b.SetBytes(size)
		cpu, cpuOK = 0, true
		for b.Loop() {
			b.StopTimer()
			c, err := Open(Options{Dir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = c.Serve(w, r, d, "application/octet-stream", nil, fetch)
			}))
			b.StartTimer()
			get(b, front.URL)
			b.StopTimer()
			for !c.Has(d) {
				time.Sleep(time.Millisecond)
			}
			front.Close()
			c.Close()
			b.StartTimer()
		}
		reportCPU(b, cpu, cpuOK, size)
	})
}

// reportCPU reports the CPU time taken per MiB of the object, when the
// process's CPU time could be read.
func reportCPU(b *testing.B, cpu time.Duration, ok bool, size int64) {
	if ok && b.N > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N)/(float64(size)/(1<<20)), "cpu-us/MiB")
	}
}

// Command cachereplay replays pulls of a catalogue of images through the
// proxy cache and reports its hit ratio and the upstream bytes it saved,
// for several size caps.
//
// The catalogue has -images images; each has one of a few shared base
// layers, two to five layers of its own (sizes drawn from a log-normal
// distribution around -layer bytes) and a small config blob. Images are
// pulled with a Zipf popularity (exponent -s): the first image is the
// most pulled, as on any registry. Each pull fetches every blob of its
// image over HTTP from a server that answers through the cache, whose
// upstream, also on loopback, counts what it sends. Every cap runs on an
// empty cache with the same sequence of pulls.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"portico/internal/blobcache"
)

func main() {
	images := flag.Int("images", 50, "images in the catalogue")
	pulls := flag.Int("pulls", 10000, "pulls replayed")
	s := flag.Float64("s", 1.1, "Zipf exponent of the images' popularity (> 1)")
	layer := flag.Int64("layer", 256<<10, "median size of an image's own layers, bytes")
	caps := flag.String("caps", "0.1,0.25,0.5,1", "cache caps, as fractions of the catalogue's size")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()

	rng := rand.New(rand.NewPCG(*seed, *seed))
	blobs := map[string][]byte{}
	add := func(size int64) string {
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		sum := sha256.Sum256(b)
		k := hex.EncodeToString(sum[:])
		blobs[k] = b
		return k
	}
	lognormal := func(median int64) int64 {
		return max(1024, int64(float64(median)*math.Exp(0.8*rng.NormFloat64())))
	}
	var bases []string
	for range 4 {
		bases = append(bases, add(lognormal(4**layer)))
	}
	catalogue := make([][]string, *images)
	for i := range catalogue {
		img := []string{add(int64(1024 + rng.IntN(3072))), bases[rng.IntN(len(bases))]}
		for range 2 + rng.IntN(4) {
			img = append(img, add(lognormal(*layer)))
		}
		catalogue[i] = img
	}
	var total int64
	for _, b := range blobs {
		total += int64(len(b))
	}
	zipf := rand.NewZipf(rng, *s, 1, uint64(*images-1))
	sequence := make([]int, *pulls)
	for i := range sequence {
		sequence[i] = int(zipf.Uint64())
	}

	var upReqs, upBytes atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := blobs[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		upReqs.Add(1)
		upBytes.Add(int64(len(b)))
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
	}))
	defer up.Close()

	fmt.Printf("catalogue: %d images, %d blobs, %.1f MiB; %d pulls, Zipf s=%.2f\n", *images, len(blobs), float64(total)/(1<<20), *pulls, *s)
	fmt.Printf("| cap | blob requests | upstream requests | hit ratio | bytes to clients | upstream bytes | upstream bytes saved |\n|---|---|---|---|---|---|---|\n")
	for _, f := range strings.Split(*caps, ",") {
		frac, err := strconv.ParseFloat(f, 64)
		if err != nil {
			log.Fatal(err)
		}
		dir, err := os.MkdirTemp("", "cachereplay")
		if err != nil {
			log.Fatal(err)
		}
		c, err := blobcache.Open(blobcache.Options{Dir: dir, MaxBytes: int64(frac * float64(total))})
		if err != nil {
			log.Fatal(err)
		}
		front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			k := strings.TrimPrefix(r.URL.Path, "/")
			d, err := blobcache.ParseHex("sha256", k)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			res, err := c.Serve(w, r, d, "application/octet-stream", nil, func(ctx context.Context) (io.ReadCloser, int64, error) {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, up.URL+"/"+k, nil)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return nil, 0, err
				}
				if resp.StatusCode != http.StatusOK {
					resp.Body.Close()
					return nil, 0, errors.New(resp.Status)
				}
				return resp.Body, resp.ContentLength, nil
			})
			if res.Status == 0 && err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
			}
		}))
		upReqs.Store(0)
		upBytes.Store(0)
		var reqs, sent int64
		for _, img := range sequence {
			for _, k := range catalogue[img] {
				resp, err := http.Get(front.URL + "/" + k)
				if err != nil {
					log.Fatal(err)
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || n != int64(len(blobs[k])) {
					log.Fatalf("blob %s: %d bytes, %v", k, n, err)
				}
				reqs++
				sent += n
			}
		}
		front.Close()
		c.Close()
		_ = os.RemoveAll(dir)
		fmt.Printf("| %.0f%% (%.1f MiB) | %d | %d | %.3f | %.1f GiB | %.1f MiB | %.1f%% |\n", frac*100, frac*float64(total)/(1<<20),
			reqs, upReqs.Load(), 1-float64(upReqs.Load())/float64(reqs), float64(sent)/(1<<30), float64(upBytes.Load())/(1<<20),
			100*(1-float64(upBytes.Load())/float64(sent)))
	}
}

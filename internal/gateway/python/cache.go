package python

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"portico/internal/blobcache"
	"portico/internal/event"
	"portico/internal/gateway"
	"portico/internal/upstream"
)

// fileCache serves the files of python-index-v1 rules in cache mode.
type fileCache struct {
	blobs  *blobcache.Cache
	client *http.Client
}

// maxFileRedirects bounds the redirects followed for one file.
const maxFileRedirects = 5

// fileDigest returns the strongest hash the index gives d that the
// cache can verify: sha256 (which PyPI always gives), else sha512.
func fileDigest(d *dist) blobcache.Digest {
	var best blobcache.Digest
	for _, h := range d.hashes {
		if h.name != "sha256" && h.name != "sha512" {
			continue
		}
		if dg, err := blobcache.ParseHex(h.name, h.value); err == nil && (best.IsZero() || dg.Algorithm() == "sha512") {
			best = dg
		}
	}
	return best
}

// serve answers a file download from the cache, fetching the file from
// its upstream URL, under policy, when it is not kept.
func (fc *fileCache) serve(w http.ResponseWriter, req *gateway.Request, policy *upstream.Policy, d *dist, dg blobcache.Digest) (int, event.Outcome) {
	target, err := url.Parse(d.target[0])
	if err != nil {
		writeText(w, req, http.StatusBadGateway, "portico: the upstream file URL is invalid\n")
		return http.StatusBadGateway, event.OutcomeError
	}
	target.Fragment, target.RawFragment = "", ""
	res, err := fc.blobs.Serve(w, req.HTTP, dg, "application/octet-stream", nil, func(ctx context.Context) (io.ReadCloser, int64, error) {
		return fc.fetch(ctx, policy, target)
	})
	if res.Status == 0 {
		var us *fileStatus
		switch {
		case errors.As(err, &us) && us.status == http.StatusNotFound:
			writeText(w, req, http.StatusNotFound, "portico: the upstream index has no such file\n")
			return http.StatusNotFound, event.OutcomeNotFound
		case errors.Is(err, context.Canceled) && req.HTTP.Context().Err() != nil:
			return 499, event.OutcomeError
		}
		status := http.StatusBadGateway
		if errors.Is(err, context.DeadlineExceeded) {
			status = http.StatusGatewayTimeout
		}
		writeText(w, req, status, "portico: the upstream file could not be fetched: "+err.Error()+"\n")
		return status, event.OutcomeError
	}
	if err != nil {
		return res.Status, event.OutcomeError
	}
	return res.Status, event.OutcomeProxy
}

// fetch downloads a file, following redirects on the index's origin
// and to https hosts; no client header goes along.
func (fc *fileCache) fetch(ctx context.Context, policy *upstream.Policy, u *url.URL) (io.ReadCloser, int64, error) {
	if _, err := policy.Check(u); err != nil {
		return nil, 0, err
	}
	for hop := 0; ; hop++ {
		out, err := http.NewRequestWithContext(upstream.WithPolicy(ctx, policy), http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, 0, err
		}
		out.Header.Set("User-Agent", "portico")
		resp, err := fc.client.Do(out)
		if err != nil {
			return nil, 0, err
		}
		switch resp.StatusCode {
		case http.StatusOK:
			return resp.Body, resp.ContentLength, nil
		case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		default:
			resp.Body.Close()
			return nil, 0, &fileStatus{resp.StatusCode}
		}
		resp.Body.Close()
		next, err := upstream.Resolve(u, resp.Header.Get("Location"))
		if err != nil {
			return nil, 0, err
		}
		if hop >= maxFileRedirects {
			return nil, 0, &upstream.RefusedError{Target: next.Host, Reason: "too many redirects"}
		}
		if _, err := policy.Check(next); err != nil {
			return nil, 0, err
		}
		u = next
	}
}

// fileStatus is an upstream's answer other than the file.
type fileStatus struct{ status int }

func (e *fileStatus) Error() string { return "the upstream answered " + strconv.Itoa(e.status) }

package docker

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"portico/internal/gateway"
	"portico/internal/manifest"
	"portico/internal/upstream"
)

// maxInternalRedirects bounds the registry-internal redirects the proxy
// follows for one request.
const maxInternalRedirects = 10

// Proxy streams registry requests to backends.
type Proxy struct {
	client *http.Client
}

var (
	defaultProxyOnce sync.Once
	defaultProxyVal  *Proxy
)

func defaultProxy() *Proxy {
	defaultProxyOnce.Do(func() { defaultProxyVal = NewProxy(nil) })
	return defaultProxyVal
}

// NewProxy returns a proxy using transport, or upstream's default
// transport when nil.
func NewProxy(transport http.RoundTripper) *Proxy {
	return &Proxy{client: upstream.NewClient(transport)}
}

// Request headers that are not forwarded: hop-by-hop headers and those
// the outbound client sets itself.
var skipRequestHeaders = map[string]bool{
	"Host": true, "Connection": true, "Keep-Alive": true, "Proxy-Connection": true,
	"Proxy-Authorization": true, "Te": true, "Trailer": true, "Transfer-Encoding": true,
	"Upgrade": true, "Accept-Encoding": true, "Content-Length": true, "Content-Encoding": true,
	"X-Forwarded-For": true,
}

// Response headers that are not passed back.
var skipResponseHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true, "Trailer": true,
	"Transfer-Encoding": true, "Upgrade": true, "Content-Encoding": true, "Accept-Encoding": true,
}

// serve proxies req to backend and streams the answer to w. It returns
// the status sent to the client.
func (p *Proxy) serve(w http.ResponseWriter, req *gateway.Request, backend manifest.Backend) int {
	in := req.HTTP
	target, err := url.Parse(backend.URL() + req.RawPath + req.RawQuery)
	if err != nil {
		return writeError(w, http.StatusBadGateway, "UNKNOWN", "invalid upstream URL")
	}
	ctx := in.Context()
	var resp *http.Response
	for hop := 0; ; hop++ {
		out, err := http.NewRequestWithContext(ctx, in.Method, target.String(), nil)
		if err != nil {
			return writeError(w, http.StatusBadGateway, "UNKNOWN", "invalid upstream request")
		}
		copyRequestHeaders(out.Header, in)
		resp, err = p.client.Do(out)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return 499
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return writeError(w, http.StatusGatewayTimeout, "UNAVAILABLE", "the registry did not answer in time")
			}
			return writeError(w, http.StatusBadGateway, "UNAVAILABLE", "the registry could not be reached")
		}
		next, follow := internalRedirect(resp, target)
		if !follow || hop >= maxInternalRedirects {
			break
		}
		drain(resp.Body)
		target = next
	}
	defer resp.Body.Close()

	h := w.Header()
	for k, v := range resp.Header {
		if !skipResponseHeaders[k] {
			h[k] = v
		}
	}
	if loc := resp.Header.Get("Location"); strings.HasPrefix(loc, "/") {
		// A relative redirect is relative to where it came from, not
		// to the gateway.
		h.Set("Location", target.Scheme+"://"+target.Host+loc)
	}
	if resp.StatusCode == http.StatusFound || resp.StatusCode == http.StatusTemporaryRedirect {
		h.Del("Content-Length")
		w.WriteHeader(resp.StatusCode)
		return resp.StatusCode
	}
	w.WriteHeader(resp.StatusCode)
	if in.Method != http.MethodHead {
		copyBody(w, resp.Body)
	}
	return resp.StatusCode
}

func copyRequestHeaders(dst http.Header, in *http.Request) {
	for k, v := range in.Header {
		if !skipRequestHeaders[k] {
			dst[k] = v
		}
	}
	if c := in.Header.Get("Connection"); strings.EqualFold(c, "close") {
		dst.Set("Connection", "close")
	}
	// Append the client to the chain rather than forwarding a header the
	// client may have made up unchanged at the front.
	var chain []string
	for _, v := range in.Header["X-Forwarded-For"] {
		chain = append(chain, v)
	}
	if host, _, err := net.SplitHostPort(in.RemoteAddr); err == nil {
		chain = append(chain, host)
	}
	if len(chain) > 0 {
		dst.Set("X-Forwarded-For", strings.Join(chain, ", "))
	}
}

// internalRedirect reports whether resp is a registry-internal redirect
// (302 or 307 to a /v2 path) that the proxy follows itself, and where to.
// Other redirects, typically to signed blob storage URLs, go back to the
// client.
func internalRedirect(resp *http.Response, from *url.URL) (*url.URL, bool) {
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusTemporaryRedirect {
		return nil, false
	}
	loc, err := from.Parse(strings.TrimSpace(resp.Header.Get("Location")))
	if err != nil {
		return nil, false
	}
	if loc.Scheme != "http" && loc.Scheme != "https" {
		return nil, false
	}
	if loc.Path != "/v2" && !strings.HasPrefix(loc.Path, "/v2/") {
		return nil, false
	}
	loc.Fragment = ""
	return loc, true
}

// copyBody streams the body with a flush per read, so a client sees bytes
// as soon as the registry sends them, in constant memory.
func copyBody(w http.ResponseWriter, body io.Reader) {
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			_ = rc.Flush()
		}
		if err != nil {
			return
		}
	}
}

func drain(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	body.Close()
}

// writeError answers with an OCI error body.
func writeError(w http.ResponseWriter, status int, code, message string) int {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, `{"errors":[{"code":"`+code+`","message":"`+message+`","detail":{}}]}`)
	return status
}

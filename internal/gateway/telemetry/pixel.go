package telemetry

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"strconv"

	"portico/internal/event"
	"portico/internal/gateway"
	"portico/internal/manifest"
	"portico/internal/query"
)

// pixelPNG is a transparent 1×1 PNG, encoded once.
var pixelPNG = func() []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 1, 1))
	img.SetNRGBA(0, 0, color.NRGBA{})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic("encode pixel: " + err.Error()) // cannot happen for an in-memory 1×1 image
	}
	return b.Bytes()
}()

var (
	pixelHeaders = http.Header{
		"Cache-Control":  {"no-cache, no-store, must-revalidate"},
		"Content-Type":   {"image/png"},
		"Content-Length": {strconv.Itoa(len(pixelPNG))},
	}
)

// Pixel serves a pixel-v1 rule: GET /a.png?x-pxid=ID answers a transparent
// image that caches never keep, and records one view of ID.
type Pixel struct {
	packageID string
}

// NewPixel compiles a pixel-v1 rule.
func NewPixel(r *manifest.Pixel) *Pixel { return &Pixel{packageID: r.PackageID} }

// Serve implements gateway.Rule.
func (p *Pixel) Serve(w http.ResponseWriter, req *gateway.Request) (gateway.Result, bool) {
	segs := req.Segments()
	if req.Method() != http.MethodGet || len(segs) == 0 || segs[0] != "a.png" {
		return gateway.Result{}, false
	}
	id := ""
	if it, ok := query.Get(req.Query(), "x-pxid"); ok {
		id = it.Value
	}
	h := w.Header()
	for k, v := range pixelHeaders {
		h[k] = v
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(pixelPNG)
	return gateway.Result{
		Status:  http.StatusOK,
		Outcome: event.OutcomeServe,
		Event:   event.Event{Kind: event.KindPixel, PackageID: p.packageID, PixelID: id},
	}, true
}

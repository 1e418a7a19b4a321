package manifest

import "strings"

// Telemetry accepts JSON events posted to a path.
type Telemetry struct {
	Base
	IncomingPath string
	PackageID    string
	// AccessTokens is nil when anyone may post; an empty, non-nil list
	// lets nobody post. Entries are plain tokens or "sha256:<hex>".
	AccessTokens []string
}

func (*Telemetry) Type() string { return TypeTelemetryV1 }

func (r *Telemetry) encode(o *object) {
	o.add("incoming-path", r.IncomingPath)
	o.add("package-id", r.PackageID)
	if r.AccessTokens != nil {
		o.add("access-tokens", r.AccessTokens)
	}
}

// Pixel serves a tracking pixel at /a.png?x-pxid=ID.
type Pixel struct {
	Base
	PackageID string
}

func (*Pixel) Type() string { return TypePixelV1 }

func (r *Pixel) encode(o *object) {
	o.opt("package-id", r.PackageID)
}

// ScarfJS accepts install events at /package-event/install.
type ScarfJS struct {
	Base
	PackageID string
}

func (*ScarfJS) Type() string { return TypeScarfJSV1 }

func (r *ScarfJS) encode(o *object) {
	o.opt("package-id", r.PackageID)
}

func (f *fields) telemetry() Rule {
	r := &Telemetry{Base: f.base()}
	if p, ok := f.strOK("incoming-path"); ok {
		if !strings.HasPrefix(p, "/") {
			f.errorf("incoming-path", "must start with '/'")
		}
		r.IncomingPath = p
	}
	r.PackageID = f.str("package-id")
	// Absent and null both let anyone post; [] lets nobody post.
	r.AccessTokens = f.optStrList("access-tokens", checkToken)
	return r
}

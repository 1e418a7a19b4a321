package event

import (
	"encoding/json"
	"strings"
)

// Package returns the package an event counts for in analytics: its
// package_id, or the rule_id of a docker-v2 rule, or "" when the rule has
// neither.
func (e *Event) Package() string {
	if e.PackageID != "" {
		return e.PackageID
	}
	return e.RuleID
}

// Artifact returns the name of what was fetched within the package: the
// docker image, the Python project, the npm package or the package named
// by a scarf-js event; "" for other kinds.
func (e *Event) Artifact() string {
	switch e.Kind {
	case KindDocker:
		return e.Docker.Image
	case KindPython:
		return e.Python.Project
	case KindNPM:
		return e.NPM.Package
	case KindScarfJS:
		return e.Subject
	}
	return ""
}

// ArtifactVersion returns the version that was fetched, when the event
// says: the docker reference (a tag, or a digest when the client asked by
// digest), the Python or npm version, a file rule's "version" variable, or
// the libraryVersion of a scarf-js payload.
func (e *Event) ArtifactVersion() string {
	switch e.Kind {
	case KindDocker:
		return e.Docker.Reference
	case KindPython:
		return e.Python.Version
	case KindNPM:
		return e.NPM.Version
	case KindFile:
		for _, v := range e.Variables {
			if v.Name == "version" {
				return v.Value
			}
		}
	case KindScarfJS:
		if len(e.Payload) > 0 && e.Payload[0] == '{' {
			var p struct {
				LibraryVersion string `json:"libraryVersion"`
			}
			if json.Unmarshal(e.Payload, &p) == nil {
				return p.LibraryVersion
			}
		}
	}
	return ""
}

// Download reports whether the event counts as a download (or, for
// telemetry, pixel and scarf-js events, as one recorded event) by its
// kind's definition:
//
//   - docker: a GET of a manifest (a pull, as Docker Hub counts them;
//     folding an index and its manifest into one pull is the store's job);
//   - python: a GET of a file; npm: a GET of a tarball;
//   - file: any request but HEAD;
//   - telemetry, pixel, scarf-js: every event.
//
// Requests that failed (status 400 and above) never count.
func (e *Event) Download() bool {
	if e.Status >= 400 {
		return false
	}
	switch e.Kind {
	case KindDocker:
		return e.Docker.Pull
	case KindPython:
		return e.Method == "GET" && e.Python.Object == "file"
	case KindNPM:
		return e.Method == "GET" && e.NPM.Object == "tarball"
	case KindFile:
		return e.Method != "HEAD"
	case KindTelemetry, KindPixel, KindScarfJS:
		return true
	}
	return false
}

// IsIndexMediaType reports whether a manifest media type is that of an
// image index (a multi-platform list of manifests).
func IsIndexMediaType(mt string) bool {
	mt, _, _ = strings.Cut(mt, ";")
	mt = strings.TrimSpace(mt)
	return mt == "application/vnd.oci.image.index.v1+json" || mt == "application/vnd.docker.distribution.manifest.list.v2+json"
}

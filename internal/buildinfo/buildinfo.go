// Package buildinfo says which build of Portico is running: the version,
// commit and commit time that a release build sets with the linker, or
// else what the Go toolchain recorded in the binary (the module version
// of "go install …@v1.2.3", the VCS stamp of a build in a checkout).
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Set by release builds, which may not have the repository at hand
// (a container build without .git, a build with -buildvcs=false):
//
//	-ldflags "-X portico/internal/buildinfo.version=v1.2.3
//	          -X portico/internal/buildinfo.commit=<full hash>
//	          -X portico/internal/buildinfo.date=<commit time, RFC 3339>"
var version, commit, date string

// Info describes a build.
type Info struct {
	// Version is a release version (v1.2.3), a module pseudo-version, or
	// "devel" for a build from a checkout that knows no version.
	Version string
	// Commit is the VCS revision, "" when the build did not record one.
	Commit string
	// Time is the commit's time as recorded (RFC 3339), or "".
	Time string
	// Modified is set when the checkout had uncommitted changes.
	Modified bool
	// GoVersion, OS and Arch are the toolchain and target.
	GoVersion, OS, Arch string
}

// Read returns the running binary's build information.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return From(bi, version, commit, date)
}

// From derives an Info from what the toolchain recorded (bi may be nil)
// and the values set with the linker, which win where given.
func From(bi *debug.BuildInfo, ldVersion, ldCommit, ldDate string) Info {
	i := Info{GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if bi != nil {
		if bi.GoVersion != "" {
			i.GoVersion = bi.GoVersion
		}
		// "(devel)" is what a build in a checkout without VCS stamping
		// records; it says nothing an operator can use.
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			i.Version = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				i.Commit = s.Value
			case "vcs.time":
				i.Time = s.Value
			case "vcs.modified":
				i.Modified = s.Value == "true"
			case "GOOS":
				i.OS = s.Value
			case "GOARCH":
				i.Arch = s.Value
			}
		}
	}
	if ldVersion != "" {
		i.Version = ldVersion
	}
	if ldCommit != "" {
		i.Commit, i.Modified = ldCommit, false
	}
	if ldDate != "" {
		i.Time = ldDate
	}
	if i.Version == "" {
		i.Version = "devel"
	}
	return i
}

// ShortCommit returns the first 12 characters of the commit, as git
// abbreviates it in logs, or "unknown".
func (i Info) ShortCommit() string {
	switch {
	case i.Commit == "":
		return "unknown"
	case len(i.Commit) > 12:
		return i.Commit[:12]
	}
	return i.Commit
}

// String returns the build in one line, for the log of a start:
// "v1.2.3 (0123456789ab, 2026-12-01T10:00:00Z)".
func (i Info) String() string {
	var b strings.Builder
	b.WriteString(i.Version)
	b.WriteString(" (")
	b.WriteString(i.ShortCommit())
	if i.Modified {
		b.WriteString("-modified")
	}
	if i.Time != "" {
		b.WriteString(", ")
		b.WriteString(i.Time)
	}
	b.WriteString(")")
	return b.String()
}

// Lines returns the build as "portico version" prints it: the version
// alone on the first line, so that scripts can take it with head -1,
// then the commit and the toolchain.
func (i Info) Lines() string {
	c := i.Commit
	switch {
	case c == "":
		c = "unknown (built without VCS information)"
	case i.Modified:
		c += " (with uncommitted changes)"
	}
	t := i.Time
	if t == "" {
		t = "unknown"
	}
	return fmt.Sprintf("portico %s\ncommit: %s\ncommit time: %s\nbuilt with: %s %s/%s\n",
		i.Version, c, t, i.GoVersion, i.OS, i.Arch)
}

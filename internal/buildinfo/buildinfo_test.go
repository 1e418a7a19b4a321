package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

const rev = "00f8729828b65f9181105e4bd5422c411201ab5f"

func vcs(modified string) []debug.BuildSetting {
	return []debug.BuildSetting{
		{Key: "GOOS", Value: "darwin"}, {Key: "GOARCH", Value: "arm64"},
		{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev},
		{Key: "vcs.time", Value: "2026-12-07T16:58:00Z"}, {Key: "vcs.modified", Value: modified},
	}
}

func TestFrom(t *testing.T) {
	tests := []struct {
		name                   string
		bi                     *debug.BuildInfo
		ldVersion, ldCommit, d string
		want                   Info
		line                   string
	}{
		{
			name: "no build info",
			want: Info{Version: "devel"},
			line: "devel (unknown)",
		},
		{
			// go build with -buildvcs=false, as CI builds.
			name: "checkout without VCS stamp",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "portico", Version: "(devel)"}},
			want: Info{Version: "devel", GoVersion: "go1.26.8"},
			line: "devel (unknown)",
		},
		{
			name: "checkout with VCS stamp",
			bi: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "portico", Version: "v0.0.0-20261207165800-00f8729828b6"},
				Settings: vcs("false")},
			want: Info{Version: "v0.0.0-20261207165800-00f8729828b6", Commit: rev, Time: "2026-12-07T16:58:00Z", GoVersion: "go1.26.8", OS: "darwin", Arch: "arm64"},
			line: "v0.0.0-20261207165800-00f8729828b6 (00f8729828b6, 2026-12-07T16:58:00Z)",
		},
		{
			name: "checkout with changes",
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261207165800-00f8729828b6+dirty"}, Settings: vcs("true")},
			want: Info{Version: "v0.0.0-20261207165800-00f8729828b6+dirty", Commit: rev, Time: "2026-12-07T16:58:00Z", Modified: true, OS: "darwin", Arch: "arm64"},
			line: "v0.0.0-20261207165800-00f8729828b6+dirty (00f8729828b6-modified, 2026-12-07T16:58:00Z)",
		},
		{
			// go install MODULE/cmd/portico@v1.4.0 records the module
			// version and no VCS settings.
			name: "go install at a version",
			bi:   &debug.BuildInfo{Main: debug.Module{Path: "example.org/portico", Version: "v1.4.0"}},
			want: Info{Version: "v1.4.0"},
			line: "v1.4.0 (unknown)",
		},
		{
			name:      "release build: the linker's values win",
			bi:        &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("true")},
			ldVersion: "v2.0.0", ldCommit: "1111111111111111111111111111111111111111", d: "2027-01-02T03:04:05Z",
			want: Info{Version: "v2.0.0", Commit: "1111111111111111111111111111111111111111", Time: "2027-01-02T03:04:05Z", OS: "darwin", Arch: "arm64"},
			line: "v2.0.0 (111111111111, 2027-01-02T03:04:05Z)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := From(tt.bi, tt.ldVersion, tt.ldCommit, tt.d)
			want := tt.want
			// The toolchain and target default to the running ones.
			if want.GoVersion == "" {
				want.GoVersion = runtime.Version()
			}
			if want.OS == "" {
				want.OS, want.Arch = runtime.GOOS, runtime.GOARCH
			}
			if got != want {
				t.Errorf("From = %+v, want %+v", got, want)
			}
			if s := got.String(); s != tt.line {
				t.Errorf("String = %q, want %q", s, tt.line)
			}
		})
	}
}

func TestLines(t *testing.T) {
	i := Info{Version: "v1.4.0", Commit: rev, Time: "2026-12-07T16:58:00Z", Modified: true, GoVersion: "go1.26.8", OS: "linux", Arch: "amd64"}
	want := "portico v1.4.0\ncommit: " + rev + " (with uncommitted changes)\ncommit time: 2026-12-07T16:58:00Z\nbuilt with: go1.26.8 linux/amd64\n"
	if got := i.Lines(); got != want {
		t.Errorf("Lines =\n%s\nwant\n%s", got, want)
	}
	got := Info{Version: "devel", GoVersion: "go1.26.8", OS: "linux", Arch: "amd64"}.Lines()
	if !strings.Contains(got, "commit: unknown (built without VCS information)\ncommit time: unknown\n") {
		t.Errorf("Lines without VCS information:\n%s", got)
	}
}

// TestRead checks the running test binary: it has build information, so
// the version is never empty and the toolchain is the one running.
func TestRead(t *testing.T) {
	i := Read()
	if i.Version == "" || i.GoVersion != runtime.Version() {
		t.Errorf("Read = %+v", i)
	}
}

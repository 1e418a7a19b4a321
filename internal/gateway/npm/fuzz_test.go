package npm

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// FuzzParsePackument checks that any document either is refused or
// renders to valid JSON in which every tarball URL is on Portico's base.
func FuzzParsePackument(f *testing.F) {
	f.Add(`{"name":"a","versions":{"1.0.0":{"dist":{"tarball":"https://r.test/a/-/a-1.0.0.tgz","integrity":"sha512-x"}}}}`, false)
	f.Add(`{"name":"@s/a","dist-tags":{"latest":"1.0.0"},"versions":{"1.0.0":{"name":"@s/a","dist":{"tarball":"http://r.test/@s/a/-/a-1.0.0.tgz"}}},"readme":"x"}`, true)
	f.Add(`{"versions":null}`, false)
	f.Add(`[]`, true)
	f.Fuzz(func(t *testing.T, doc string, abbrev bool) {
		p, err := parsePackument("@s/a", abbrev, http.Header{}, []byte(doc))
		if err != nil {
			return
		}
		base := jsonBase("https://npm.acme.test")
		var out bytes.Buffer
		_ = p.writeTo(&out, base)
		if out.Len() != p.length(base) {
			t.Fatalf("length %d, wrote %d", p.length(base), out.Len())
		}
		// Field names are compared exactly, as JavaScript clients do:
		// maps, because encoding/json matches struct fields regardless
		// of case ("dIst" is not dist to npm).
		var top map[string]json.RawMessage
		if err := json.Unmarshal(out.Bytes(), &top); err != nil {
			t.Fatalf("rendered document is not a JSON object: %v\n%s", err, out.Bytes())
		}
		var versions map[string]map[string]json.RawMessage
		_ = json.Unmarshal(top["versions"], &versions)
		for _, ver := range versions {
			var dist map[string]json.RawMessage
			var tb string
			if json.Unmarshal(ver["dist"], &dist) == nil && json.Unmarshal(dist["tarball"], &tb) == nil &&
				tb != "" && !strings.HasPrefix(tb, "https://npm.acme.test/@s/a/-/") {
				t.Fatalf("tarball %q not on Portico", tb)
			}
		}
	})
}

// FuzzParsePath checks that names found in paths are valid and that the
// two spellings of a scoped name agree.
func FuzzParsePath(f *testing.F) {
	f.Add("@acme/rocket-skates")
	f.Add("left-pad")
	f.Add("@a/b/-/b-1.0.0.tgz")
	f.Fuzz(func(t *testing.T, p string) {
		segs := strings.Split(p, "/")
		r, ok := parsePath("/"+p, segs)
		if !ok {
			return
		}
		if !validName(r.name) {
			t.Fatalf("invalid name %q accepted", r.name)
		}
		if strings.HasPrefix(r.name, "@") && len(segs) >= 2 && !strings.Contains(segs[0], "/") {
			joined := append([]string{segs[0] + "/" + segs[1]}, segs[2:]...)
			r2, ok := parsePath("", joined)
			if !ok || r2.name != r.name || len(r2.rest) != len(r.rest) {
				t.Fatalf("%q and %q disagree: %+v %+v", segs, joined, r, r2)
			}
		}
	})
}

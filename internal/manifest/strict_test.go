package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestByteOrderMark: a UTF-8 byte order mark at the start is ignored,
// and positions in errors count from the text after it, as an editor
// shows it.
func TestByteOrderMark(t *testing.T) {
	good, err := os.ReadFile("testdata/good.json")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Decode("good.json", good)
	if err != nil {
		t.Fatal(err)
	}
	withBOM, err := Decode("good.json", append([]byte("\xef\xbb\xbf"), good...))
	if err != nil {
		t.Fatalf("Decode with a byte order mark: %v", err)
	}
	if !sameRules(plain, withBOM) {
		t.Error("a byte order mark changed the rules")
	}
	_, err = Decode("m.json", []byte("\xef\xbb\xbf{\"rules\": [,]}"))
	if got, want := fmt.Sprint(err), "m.json: line 1, column 12: invalid character ',' looking for beginning of value"; got != want {
		t.Errorf("error after a byte order mark = %q, want %q", got, want)
	}
}

// TestDuplicateKeysInLargeObjects: objects past the size where keys are
// looked up in a map find their duplicates all the same.
func TestDuplicateKeysInLargeObjects(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"rules": [], "x-big": {`)
	for i := range 100 {
		fmt.Fprintf(&b, `"k%d": %d, `, i, i)
	}
	b.WriteString(`"k3": 0, "k70": 0, "k70": 1, "k\u0039\u0039": 0}}`)
	_, err := Decode("m.json", []byte(b.String()))
	var got []string
	for _, p := range Errors(err) {
		got = append(got, p.Error())
	}
	want := []string{
		"m.json: x-big.k3: appears more than once",
		"m.json: x-big.k70: appears more than once",
		"m.json: x-big.k99: appears more than once",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestStrictScanAllowsValidText: escapes, surrogate pairs and non-ASCII
// text are accepted and decoded as written.
func TestStrictScanAllowsValidText(t *testing.T) {
	m, err := Decode("m.json", []byte(`{"rules": [{"type": "scarf-js-v1", "domain": "a.test", "package-id": "caf\u00e9 é \ud83d\ude00 \\u \"q\""}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.Rules[0].(*ScarfJS).PackageID, "café é 😀 \\u \"q\""; got != want {
		t.Errorf("package-id = %q, want %q", got, want)
	}
}

// duplicateKey finds a repeated object key in valid JSON with the
// standard decoder's tokens, independently of the scan under test.
func duplicateKey(data []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	type level struct {
		keys   map[string]bool
		object bool
		atKey  bool
	}
	var stack []level
	for {
		tok, err := dec.Token()
		if err == io.EOF || err != nil {
			return "", false
		}
		top := len(stack) - 1
		if top >= 0 && stack[top].object && stack[top].atKey {
			if k, ok := tok.(string); ok {
				if stack[top].keys[k] {
					return k, true
				}
				stack[top].keys[k] = true
				stack[top].atKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, level{keys: map[string]bool{}, object: true, atKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, level{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:top]
		}
		// A value ends: the enclosing object expects a key again.
		if n := len(stack) - 1; n >= 0 && stack[n].object {
			stack[n].atKey = true
		}
	}
}

func TestDuplicateKeyOracle(t *testing.T) {
	for _, c := range []struct {
		doc string
		dup bool
	}{
		{`{"a": {"b": 1}, "c": [{"b": 2}, {"b": 3}]}`, false},
		{`{"a": {"b": 1, "b": 2}}`, true},
		{`{"a": [{"x": 1, "y": {"x": 2}, "x": 3}]}`, true},
		{`{"a": 1, "\u0061": 2}`, true},
	} {
		if _, dup := duplicateKey([]byte(c.doc)); dup != c.dup {
			t.Errorf("duplicateKey(%s) = %v, want %v", c.doc, dup, c.dup)
		}
	}
}

// acceptedIsStrict is FuzzDecode's check on what Decode accepts: UTF-8
// text without repeated keys.
func acceptedIsStrict(t *testing.T, data []byte) {
	t.Helper()
	text := bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(text) {
		t.Fatalf("Decode accepted invalid UTF-8: %q", data)
	}
	if k, dup := duplicateKey(text); dup {
		t.Fatalf("Decode accepted the repeated key %q: %q", k, data)
	}
}

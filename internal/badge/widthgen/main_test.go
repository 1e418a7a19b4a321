package main

import (
	"bytes"
	"os"
	"testing"

	"portico/internal/testenv"
)

const (
	regular = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
	bold    = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
)

func fonts(t *testing.T) {
	t.Helper()
	for _, p := range []string{regular, bold} {
		if _, err := os.Stat(p); err != nil {
			testenv.Missing(t, "fonts-dejavu-core", "no "+p+": apt-get install fonts-dejavu-core")
		}
	}
}

// TestUpToDate requires the committed table to be what the fonts give.
func TestUpToDate(t *testing.T) {
	fonts(t)
	got, err := Generate(regular, bold)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../widths_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("widths_gen.go is not what widthgen writes from the installed fonts: run go generate in internal/badge")
	}
}

// TestParse checks what Parse reads from DejaVu Sans against the font's
// published metrics: 2048 units per em, and the advance widths of a few
// characters.
func TestParse(t *testing.T) {
	fonts(t)
	data, err := os.ReadFile(regular)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if f.UnitsPerEm != 2048 || f.Family != "DejaVu Sans" {
		t.Errorf("units per em %d, family %q", f.UnitsPerEm, f.Family)
	}
	for r, want := range map[rune]uint16{' ': 651, '0': 1303, 'm': 1995, 'i': 569, 'W': 2025} {
		g, ok := f.Glyph(r)
		if !ok {
			t.Errorf("no glyph for %q", r)
			continue
		}
		if got := f.Advance(g); got != want {
			t.Errorf("advance of %q = %d, want %d", r, got, want)
		}
	}
	if _, ok := f.Glyph(0xE000); ok {
		t.Error("a glyph for U+E000, which DejaVu Sans does not have")
	}
	// A cut file is an error, never a panic or a table of garbage.
	for _, n := range []int{0, 11, 12 + 16, len(data) / 2} {
		if _, err := Parse(data[:n]); err == nil {
			t.Errorf("Parse of the first %d bytes succeeded", n)
		}
	}
}

package badge

import "testing"

// BenchmarkRender draws a badge in each style, with a logo, into a reused
// buffer: the cost of a badge that no cache holds.
func BenchmarkRender(b *testing.B) {
	for _, s := range styles {
		b.Run(s.String(), func(b *testing.B) {
			bd := Badge{Label: "installs", Message: "1.2k", Logo: LogoDocker, Style: s}
			buf := make([]byte, 0, 4096)
			b.ReportAllocs()
			for b.Loop() {
				buf = bd.AppendSVG(buf[:0])
			}
		})
	}
}

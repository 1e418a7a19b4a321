// Package badge draws README badges: a label and a message, such as
// "installs | 1.2k", as an SVG image in the styles of shields.io (flat,
// flat-square, plastic, for-the-badge, social) or as shields.io's
// endpoint JSON. It is pure: text and options in, bytes out; package
// badgehttp serves badges over HTTP.
//
// Text is measured with the advance widths of DejaVu Sans and DejaVu
// Sans Bold (widths_gen.go, written by widthgen from the font files), and
// every text element carries the measured width as its textLength, so
// that the text fills its part of the badge exactly in whichever font the
// viewer has.
//
// Everything that reaches the SVG from outside is either parsed into a
// closed set (colours, logos, styles) or cleaned and escaped (labels), so
// any query gives a well-formed document with nothing injected.
package badge

package web

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"

	"portico/internal/stats"
)

// The charts are SVG drawn on the server: axes with units, one bar per
// interval, and a <title> on each bar that browsers show as a tooltip and
// screen readers read. They need no script and no library.

// funcs are the templates' functions.
var funcs = template.FuncMap{
	"num":       group,
	"pct":       func(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + "%" },
	"sharebar":  shareBar,
	"when":      when,
	"date":      func(t time.Time) string { return t.UTC().Format(time.DateOnly) },
	"sparkline": sparkline,
	"chart":     barChart,
	"field":     func(m map[string]string, k string) string { return m[k] },
	"keyname":   keyName,
	"dimtitle":  dimTitle,
	"fieldid":   fieldID,
	"ferr": func(errs map[string]string, path string) *fieldErr {
		if msg, ok := errs[path]; ok {
			return &fieldErr{ID: fieldID(path), Msg: msg}
		}
		return nil
	},
}

// fieldErr is a message shown next to the input it is about.
type fieldErr struct{ ID, Msg string }

// shareBar draws a share as a small bar: SVG attributes, since the
// pages allow no inline styles.
func shareBar(f float64) template.HTML {
	return template.HTML(`<svg class="bar" viewBox="0 0 100 8" preserveAspectRatio="none" aria-hidden="true" focusable="false"><rect width="` +
		strconv.FormatFloat(100*min(max(f, 0), 1), 'f', 1, 64) + `" height="8"/></svg>`)
}

// group writes n with thousands separators.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return "-" + group(-n)
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// when writes a time for people, in UTC; "never" for the zero time.
func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// keyName shows a breakdown value; the empty value is unknown.
func keyName(k string) string {
	if k == "" {
		return "(unknown)"
	}
	return k
}

var dimTitles = map[string]string{"version": "Version", "client": "Client", "os": "Operating system", "country": "Country",
	"org": "Organization or company (network)", "source": "Source (cloud, CI, human)", "artifact": "Artifact", "kind": "Kind"}

func dimTitle(d string) string { return dimTitles[d] }

// fieldID turns a request field path into an element id.
func fieldID(path string) string {
	return "f-" + strings.NewReplacer(".", "-", "[", "-", "]", "").Replace(path)
}

// sparkline draws the last days' downloads as a small line.
func sparkline(pts []stats.Point) template.HTML {
	const w, h = 120.0, 28.0
	var total, peak int64
	for _, p := range pts {
		total += p.Value
		peak = max(peak, p.Value)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="spark" viewBox="0 0 %g %g" width="%g" height="%g" role="img" aria-label="%s downloads in %d days">`, w, h, w, h, group(total), len(pts))
	fmt.Fprintf(&b, `<title>%s downloads in %d days; at most %s a day</title><polyline points="`, group(total), len(pts), group(peak))
	for i, p := range pts {
		x := 0.0
		if len(pts) > 1 {
			x = w * float64(i) / float64(len(pts)-1)
		}
		y := h - 2
		if peak > 0 {
			y = h - 2 - (h-4)*float64(p.Value)/float64(peak)
		}
		fmt.Fprintf(&b, "%.1f,%.1f ", x, y)
	}
	b.WriteString(`"/></svg>`)
	return template.HTML(b.String())
}

// niceStep returns a step for about n ticks up to peak: 1, 2 or 5 times
// a power of ten.
func niceStep(peak int64, n int) int64 {
	if peak <= int64(n) {
		return 1
	}
	raw := float64(peak) / float64(n)
	pow := int64(1)
	for float64(pow*10) <= raw {
		pow *= 10
	}
	for _, m := range []int64{1, 2, 5, 10} {
		if float64(m*pow) >= raw {
			return m * pow
		}
	}
	return 10 * pow
}

// barChart draws a series as bars with axes; unit names what is counted
// ("downloads").
func barChart(pts []stats.Point, interval, unit string) template.HTML {
	const (
		w, h         = 720.0, 240.0
		left, right  = 56.0, 8.0
		top, bottom  = 12.0, 36.0
		plotW, plotH = w - left - right, h - top - bottom
	)
	var peak, total int64
	for _, p := range pts {
		peak = max(peak, p.Value)
		total += p.Value
	}
	step := niceStep(peak, 4)
	yMax := max(step, (peak+step-1)/step*step)
	layout := "2006-01-02"
	if interval == "hour" {
		layout = "2006-01-02 15:00"
	} else if interval == "month" {
		layout = "2006-01"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %g %g" role="img" aria-labelledby="chart-title">`, w, h)
	first, last := "", ""
	if len(pts) > 0 {
		first, last = pts[0].Time.UTC().Format(layout), pts[len(pts)-1].Time.UTC().Format(layout)
	}
	fmt.Fprintf(&b, `<title id="chart-title">%s %s per %s from %s to %s</title>`, group(total), unit, interval, first, last)
	// The y axis: gridlines and labels in the unit.
	for v := int64(0); v <= yMax; v += step {
		y := top + plotH - plotH*float64(v)/float64(yMax)
		fmt.Fprintf(&b, `<line class="grid" x1="%g" x2="%g" y1="%.1f" y2="%.1f"/>`, left, w-right, y, y)
		fmt.Fprintf(&b, `<text class="tick" x="%g" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`, left-6, y, group(v))
	}
	fmt.Fprintf(&b, `<text class="unit" x="4" y="%g" transform="rotate(-90 10 %g)" text-anchor="middle">%s</text>`, top+plotH/2, top+plotH/2, unit)
	if n := len(pts); n > 0 {
		slot := plotW / float64(n)
		gap := min(2.0, slot/4)
		for i, p := range pts {
			bh := plotH * float64(p.Value) / float64(yMax)
			x := left + slot*float64(i)
			fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %s %s</title></rect>`,
				x+gap/2, top+plotH-bh, max(slot-gap, 0.5), max(bh, 0), p.Time.UTC().Format(layout), group(p.Value), unit)
		}
		// The x axis: the first, middle and last interval.
		for _, i := range []int{0, n / 2, n - 1} {
			anchor := "middle"
			switch i {
			case 0:
				anchor = "start"
			case n - 1:
				anchor = "end"
			}
			x := left + slot*float64(i) + slot/2
			if anchor == "start" {
				x = left
			} else if anchor == "end" {
				x = w - right
			}
			fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%g" text-anchor="%s">%s</text>`, x, h-bottom+16, anchor, pts[i].Time.UTC().Format(layout))
			if n == 1 {
				break
			}
		}
	}
	fmt.Fprintf(&b, `<line class="axis" x1="%g" x2="%g" y1="%g" y2="%g"/>`, left, w-right, top+plotH, top+plotH)
	fmt.Fprintf(&b, `<text class="unit" x="%g" y="%g" text-anchor="middle">%s (UTC)</text>`, left+plotW/2, h-4, interval)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

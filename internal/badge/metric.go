package badge

import (
	"math"
	"strconv"
)

var metricPrefixes = [...]byte{'k', 'M', 'G', 'T', 'P', 'E'}

// Metric abbreviates n with a metric prefix the way shields.io's download
// badges do: below 1000 as is; below 10 of a unit with one decimal unless
// it is zero ("1.2k", "1k", "9.9M"); above with none ("12k", "123M"); a
// value that rounds to 1000 of a unit is written as 1 of the next ("1M").
// Rounding follows JavaScript's, which shields runs: the count is divided
// as a float64, a tie rounds away from zero.
func Metric(n int64) string {
	var buf [8]byte
	return string(AppendMetric(buf[:0], n))
}

// AppendMetric is Metric appending to dst.
func AppendMetric(dst []byte, n int64) []byte {
	if n < 0 {
		dst = append(dst, '-')
		if n == math.MinInt64 {
			return append(dst, "9.2E"...)
		}
		n = -n
	}
	if n < 1000 {
		return strconv.AppendInt(dst, n, 10)
	}
	limit := 1e3
	i := 0
	for i+1 < len(metricPrefixes) && float64(n) >= limit*1000 {
		limit *= 1000
		i++
	}
	x := float64(n) / limit
	if x < 10 {
		if tenths := roundHalfUp(x, 10); tenths%10 != 0 && tenths < 100 {
			dst = strconv.AppendInt(dst, tenths/10, 10)
			dst = append(dst, '.', byte('0'+tenths%10))
			return append(dst, metricPrefixes[i])
		}
	}
	whole := roundHalfUp(x, 1)
	if whole >= 1000 && i+1 < len(metricPrefixes) {
		return append(dst, '1', metricPrefixes[i+1])
	}
	dst = strconv.AppendInt(dst, whole, 10)
	return append(dst, metricPrefixes[i])
}

// roundHalfUp returns x*scale rounded to the nearest integer, a tie
// upward, computed on x's exact value as JavaScript's toFixed and
// Math.round do (for x ≥ 0). scale is 1 or 10.
func roundHalfUp(x float64, scale float64) int64 {
	k := math.Floor(x * scale)
	// x*scale-k exactly: the product needs a few bits more than a
	// float64 holds, the fused multiply-add rounds only once.
	rem := math.FMA(x, scale, -k)
	if rem < 0 {
		k--
		rem++
	} else if rem >= 1 {
		k++
		rem--
	}
	if rem >= 0.5 {
		k++
	}
	return int64(k)
}

package framework

import (
	"math"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram is a mergeable latency histogram with bounded memory, backed by HdrHistogram
// (values in microseconds, 1 µs to 1 hour, 3 significant digits: relative error ≤ 0.1 %).
// Run-level percentiles are computed from the merged histogram, never by averaging
// per-window percentiles.
type Histogram struct {
	h   *hdr.Histogram
	sum float64 // exact sum of recorded values in seconds, for an exact mean
}

const (
	histMinUS  = 1
	histMaxUS  = 3_600_000_000
	histSigFig = 3
)

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	return &Histogram{h: hdr.New(histMinUS, histMaxUS, histSigFig)}
}

// Record adds one latency. Values are clamped to [1 µs, 1 h].
func (h *Histogram) Record(d time.Duration) {
	us := d.Microseconds()
	if us < histMinUS {
		us = histMinUS
	}
	if us > histMaxUS {
		us = histMaxUS
	}
	_ = h.h.RecordValue(us)
	h.sum += float64(d) / 1e9 // not d.Seconds(): this is on the simulator's per-request path
}

// Merge adds every value of o into h.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil {
		return
	}
	h.h.Merge(o.h)
	h.sum += o.sum
}

// Reset empties the histogram, keeping its memory.
func (h *Histogram) Reset() {
	h.h.Reset()
	h.sum = 0
}

// Count is the number of recorded values.
func (h *Histogram) Count() int64 { return h.h.TotalCount() }

// MeanMS is the exact mean in milliseconds (NaN when empty).
func (h *Histogram) MeanMS() float64 {
	n := h.h.TotalCount()
	if n == 0 {
		return math.NaN()
	}
	return h.sum / float64(n) * 1000
}

// QuantileMS returns the q-quantile (0 < q ≤ 1) in milliseconds (NaN when empty). It is
// HdrHistogram's ValueAtQuantile: the smallest recorded value bucket at or above which lies
// the fraction q of the values, reported as the bucket's highest equivalent value.
func (h *Histogram) QuantileMS(q float64) float64 {
	if h.h.TotalCount() == 0 {
		return math.NaN()
	}
	return float64(h.h.ValueAtQuantile(q*100)) / 1000
}

// CountAbove returns how many recorded values exceed d (to bucket precision).
func (h *Histogram) CountAbove(d time.Duration) int64 {
	lim := d.Microseconds()
	var n int64
	for _, b := range h.h.Distribution() {
		if b.From > lim {
			n += b.Count
		}
	}
	return n
}

// CDF returns (value ms, cumulative fraction) points for plotting.
func (h *Histogram) CDF() [][2]float64 {
	tot := h.h.TotalCount()
	if tot == 0 {
		return nil
	}
	var out [][2]float64
	var cum int64
	for _, b := range h.h.Distribution() {
		if b.Count == 0 {
			continue
		}
		cum += b.Count
		out = append(out, [2]float64{float64(b.To) / 1000, float64(cum) / float64(tot)})
	}
	return out
}

// Encode returns a compact snapshot for storage.
func (h *Histogram) Encode() *hdr.Snapshot { return h.h.Export() }

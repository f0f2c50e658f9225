package framework

import (
	"math"
	"testing"
	"time"
)

// within reports whether got is within rel (relative) of want.
func within(got, want, rel float64) bool {
	return math.Abs(got-want) <= rel*math.Abs(want)
}

func TestHistogramPercentilesOneToHundredMS(t *testing.T) {
	h := NewHistogram()
	for i := 1; i <= 100; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	if h.Count() != 100 {
		t.Fatalf("Count() = %d, want 100", h.Count())
	}
	// Mean of 1..100 ms is 5050/100 = 50.5 ms, exact (the sum is kept outside the buckets).
	if got := h.MeanMS(); math.Abs(got-50.5) > 1e-9 {
		t.Errorf("MeanMS() = %v, want 50.5", got)
	}
	// HdrHistogram's ValueAtPercentile(q) takes the value at rank round(q·n) — for n = 100:
	// p50 → rank 50 → 50 ms, p95 → 95 ms, p99 → 99 ms, p100 → 100 ms — reported as the
	// highest value equivalent to it at 3 significant digits, i.e. at or above it by < 0.1 %.
	for _, tc := range []struct {
		q, want float64
	}{{0.50, 50}, {0.95, 95}, {0.99, 99}, {1, 100}} {
		got := h.QuantileMS(tc.q)
		if got < tc.want || !within(got, tc.want, 0.001) {
			t.Errorf("QuantileMS(%v) = %v, want in [%v, %v·1.001]", tc.q, got, tc.want, tc.want)
		}
	}
}

func TestHistogramEmptyIsNaN(t *testing.T) {
	h := NewHistogram()
	if !math.IsNaN(h.MeanMS()) || !math.IsNaN(h.QuantileMS(0.95)) {
		t.Errorf("empty histogram: MeanMS %v, p95 %v; want NaN (undefined, never 0)", h.MeanMS(), h.QuantileMS(0.95))
	}
	if h.CDF() != nil {
		t.Errorf("empty histogram CDF = %v, want nil", h.CDF())
	}
}

// TestHistogramMergedPercentileIsNotAveraged builds two windows whose percentiles, averaged,
// say nothing about the run: 1000 requests at 10 ms and 10 requests at 200 ms.
func TestHistogramMergedPercentileIsNotAveraged(t *testing.T) {
	busy, quiet := NewHistogram(), NewHistogram()
	for i := 0; i < 1000; i++ {
		busy.Record(10 * time.Millisecond)
	}
	for i := 0; i < 10; i++ {
		quiet.Record(200 * time.Millisecond)
	}
	// Window p95s: 10 ms and 200 ms; their average is 105 ms.
	avg := (busy.QuantileMS(0.95) + quiet.QuantileMS(0.95)) / 2
	if !within(avg, 105, 0.001) {
		t.Fatalf("average of window p95s = %v, want ≈105 (test construction)", avg)
	}
	run := NewHistogram()
	run.Merge(busy)
	run.Merge(quiet)
	// Run p95: rank round(0.95·1010) = 960 ≤ 1000, so a 10 ms request.
	if got := run.QuantileMS(0.95); got < 10 || !within(got, 10, 0.001) {
		t.Errorf("merged p95 = %v ms, want ≈10 ms (not the averaged %v)", got, avg)
	}
	// Run p99: rank round(0.99·1010) = 1000, still 10 ms; p99.5 → rank 1005 → 200 ms.
	if got := run.QuantileMS(0.99); !within(got, 10, 0.001) {
		t.Errorf("merged p99 = %v ms, want ≈10 ms", got)
	}
	if got := run.QuantileMS(0.995); !within(got, 200, 0.001) {
		t.Errorf("merged p99.5 = %v ms, want ≈200 ms", got)
	}
	// Mean: (1000·10 + 10·200)/1010 = 12000/1010 ms.
	if got := run.MeanMS(); math.Abs(got-12000.0/1010) > 1e-9 {
		t.Errorf("merged mean = %v, want %v", got, 12000.0/1010)
	}
	if run.Count() != 1010 {
		t.Errorf("merged Count = %d, want 1010", run.Count())
	}
	// Merging nil is a no-op.
	run.Merge(nil)
	if run.Count() != 1010 {
		t.Errorf("Merge(nil) changed the count to %d", run.Count())
	}
}

func TestHistogramClampAndExactMean(t *testing.T) {
	h := NewHistogram()
	// 300 ns is below the 1 µs floor: bucketed as 1 µs, but the mean keeps the exact value.
	h.Record(300 * time.Nanosecond)
	h.Record(1700 * time.Nanosecond)
	// Mean = (0.3 + 1.7)/2 µs = 1 µs = 0.001 ms.
	if got := h.MeanMS(); math.Abs(got-0.001) > 1e-15 {
		t.Errorf("MeanMS = %v, want 0.001", got)
	}
	// Two hours is above the 1 h ceiling and lands in the top bucket instead of being lost.
	h.Record(2 * time.Hour)
	if h.Count() != 3 {
		t.Errorf("Count = %d, want 3 (values out of range are clamped, not dropped)", h.Count())
	}
	if got := h.QuantileMS(1); !within(got, 3_600_000, 0.001) {
		t.Errorf("max = %v ms, want ≈3.6e6 (1 h)", got)
	}
}

func TestHistogramCountAboveAndCDF(t *testing.T) {
	h := NewHistogram()
	for i := 1; i <= 100; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	// 51..100 ms exceed 50 ms: 50 values.
	if got := h.CountAbove(50 * time.Millisecond); got != 50 {
		t.Errorf("CountAbove(50ms) = %d, want 50", got)
	}
	if got := h.CountAbove(100 * time.Millisecond); got != 0 {
		t.Errorf("CountAbove(100ms) = %d, want 0", got)
	}
	cdf := h.CDF()
	if len(cdf) != 100 {
		t.Fatalf("CDF has %d points, want 100 (one per distinct value)", len(cdf))
	}
	for i := 1; i < len(cdf); i++ {
		if cdf[i][0] <= cdf[i-1][0] || cdf[i][1] <= cdf[i-1][1] {
			t.Fatalf("CDF not increasing at %d: %v then %v", i, cdf[i-1], cdf[i])
		}
	}
	// The k-th point is at ≈k ms with cumulative fraction k/100.
	if p := cdf[49]; !within(p[0], 50, 0.001) || p[1] != 0.5 {
		t.Errorf("CDF[49] = %v, want ≈(50 ms, 0.5)", p)
	}
	if last := cdf[len(cdf)-1]; last[1] != 1 {
		t.Errorf("CDF ends at %v, want fraction 1", last)
	}
	h.Reset()
	if h.Count() != 0 || !math.IsNaN(h.MeanMS()) {
		t.Errorf("after Reset: Count %d, mean %v; want 0, NaN", h.Count(), h.MeanMS())
	}
}

package framework

import (
	"reflect"
	"testing"
	"time"
)

type termFunc func(StepInfo) float64

func (f termFunc) Value(s StepInfo) float64 { return f(s) }

func TestWeightedReward(t *testing.T) {
	// Terms see the step; weights multiply their values; order is the config order.
	r := NewWeightedReward([]WeightedTerm{
		{Name: "cost", Weight: -0.5, Term: termFunc(func(s StepInfo) float64 { return float64(s.Applied.Replicas) })},
		{Name: "change", Weight: 2, Term: termFunc(func(s StepInfo) float64 {
			return float64(s.Applied.Replicas - s.PrevReplicas)
		})},
		{Name: "off", Weight: 0, Term: termFunc(func(StepInfo) float64 { return 1e9 })},
	})
	if got, want := r.Terms(), []string{"cost", "change", "off"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Terms() = %v, want %v", got, want)
	}
	// 4 replicas from 1: cost −0.5·4 = −2, change 2·3 = 6, off 0·1e9 = 0; sum 4.
	vals := r.Compute(StepInfo{Applied: Applied{Replicas: 4}, PrevReplicas: 1})
	if want := []float64{-2, 6, 0}; !reflect.DeepEqual(vals, want) {
		t.Errorf("Compute = %v, want %v", vals, want)
	}
	if s := Sum(vals); s != 4 {
		t.Errorf("Sum = %v, want 4", s)
	}
	if s := Sum(nil); s != 0 {
		t.Errorf("Sum(nil) = %v, want 0", s)
	}
}

func TestMergeWindows(t *testing.T) {
	const s = time.Second
	if w := MergeWindows(nil); w.Latency != nil || !w.Start.IsZero() {
		t.Errorf("MergeWindows(nil) = %+v, want the zero window", w)
	}
	a := window(10*s, 15*s, Totals{Arrivals: 5, ReplicaSeconds: 10, GPUCount: 1}, 10*time.Millisecond, 30*time.Millisecond)
	b := window(15*s, 20*s, Totals{Arrivals: 7, ReplicaSeconds: 15, GPUCount: 1}, 50*time.Millisecond)
	if w := MergeWindows([]Window{a}); w.Latency != a.Latency || w.Totals != a.Totals {
		t.Errorf("one window is returned as is")
	}
	m := MergeWindows([]Window{a, b})
	// (10, 20]: 12 arrivals, 25 replica·s, latencies 10, 30, 50 ms (mean 30).
	if !m.Start.Equal(a.Start) || !m.End.Equal(b.End) || m.Duration() != 10*s {
		t.Errorf("merged span %v–%v, want (10 s, 20 s]", m.Start.Sub(t0), m.End.Sub(t0))
	}
	if m.Totals.Arrivals != 12 || m.Totals.ReplicaSeconds != 25 || m.Totals.GPUCount != 1 {
		t.Errorf("merged totals %+v", m.Totals)
	}
	if m.Latency.Count() != 3 || !within(m.Latency.MeanMS(), 30, 1e-12) {
		t.Errorf("merged latency: %d values, mean %v; want 3, 30", m.Latency.Count(), m.Latency.MeanMS())
	}
	// The inputs are not modified.
	if a.Latency.Count() != 2 || b.Latency.Count() != 1 {
		t.Errorf("inputs changed: %d, %d values", a.Latency.Count(), b.Latency.Count())
	}
}

func TestTotalsAdd(t *testing.T) {
	a := Totals{Arrivals: 1, Completions: 2, Drops: 3, Failures: 4, SLOViolations: 5, ReplicaSeconds: 6,
		ReadyReplicaSeconds: 7, GPUSeconds: 8, GPUBusySeconds: 9, GPUCount: 1, CPUSeconds: 10, CPURequestSeconds: 11,
		MemByteSeconds: 12, MemRequestByteSeconds: 13, GPUMemByteSeconds: 14, GPUMemTotalBytes: 100, Batches: 15,
		BatchedRequests: 16, QueueSeconds: 17, OfferedRequests: 18}
	b := a
	b.GPUCount, b.GPUMemTotalBytes = 2, 50
	a.Add(b)
	// Counts and integrals add; the GPU count and frame-buffer size are capacities (max).
	want := Totals{Arrivals: 2, Completions: 4, Drops: 6, Failures: 8, SLOViolations: 10, ReplicaSeconds: 12,
		ReadyReplicaSeconds: 14, GPUSeconds: 16, GPUBusySeconds: 18, GPUCount: 2, CPUSeconds: 20, CPURequestSeconds: 22,
		MemByteSeconds: 24, MemRequestByteSeconds: 26, GPUMemByteSeconds: 28, GPUMemTotalBytes: 100, Batches: 30,
		BatchedRequests: 32, QueueSeconds: 34, OfferedRequests: 36}
	if a != want {
		t.Errorf("Add:\n got %+v\nwant %+v", a, want)
	}
}

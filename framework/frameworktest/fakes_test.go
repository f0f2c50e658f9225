package frameworktest

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/scalelab/scalelab/framework"
)

// TestBackendAccounting checks the fake's documented arithmetic, which other tests rely on.
func TestBackendAccounting(t *testing.T) {
	ctx := context.Background()
	b := &Backend{ArrivalEvery: 250 * time.Millisecond, Latency: 40 * time.Millisecond, QueueFraction: 0.5,
		GPUBusyPerReplica: 0.4, CPUPerReplica: 0.25, CPURequestPerReplica: 0.5, GPUMemTotal: 8}
	if err := b.Reset(ctx, framework.Episode{InitialReplicas: 3, SLO: 30 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	acct := b.Accounting()
	acct.Cut()
	if err := b.Advance(ctx, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	w := acct.Cut()
	// (0, 2 s]: arrivals at 0.25, 0.5, …, 2.0 s → 8, all over the 30 ms SLO.
	// 3 replicas × 2 s = 6 replica·s; GPU busy min(1, 1.2)·2 = 2 s; CPU 0.25·3·2 = 1.5 of
	// 0.5·3·2 = 3 core·s; queue 8 × 20 ms = 0.16 s; offered 2 s / 0.25 s = 8.
	want := framework.Totals{Arrivals: 8, Completions: 8, SLOViolations: 8, ReplicaSeconds: 6, ReadyReplicaSeconds: 6,
		GPUSeconds: 6, GPUBusySeconds: 2, GPUCount: 1, CPUSeconds: 1.5, CPURequestSeconds: 3, GPUMemTotalBytes: 8,
		Batches: 8, BatchedRequests: 8, QueueSeconds: 0.16, OfferedRequests: 8}
	if math.Abs(w.Totals.QueueSeconds-want.QueueSeconds) < 1e-12 {
		w.Totals.QueueSeconds = want.QueueSeconds
	}
	if w.Totals != want {
		t.Errorf("totals\n got %+v\nwant %+v", w.Totals, want)
	}
	if !w.Start.Equal(framework.SimEpoch) || w.Duration() != 2*time.Second || w.Latency.Count() != 8 {
		t.Errorf("window %v + %v with %d latencies", w.Start, w.Duration(), w.Latency.Count())
	}
	// A cut at a non-multiple: (2, 2.1] has no arrival, (2.1, 2.25] has the one at 2.25 s.
	_ = b.Advance(ctx, 100*time.Millisecond)
	if w := acct.Cut(); w.Totals.Arrivals != 0 {
		t.Errorf("(2, 2.1] has %d arrivals, want 0", w.Totals.Arrivals)
	}
	_ = b.Advance(ctx, 150*time.Millisecond)
	if w := acct.Cut(); w.Totals.Arrivals != 1 {
		t.Errorf("(2.1, 2.25] has %d arrivals, want 1", w.Totals.Arrivals)
	}
}

func TestBackendJitterIsSeeded(t *testing.T) {
	ctx := context.Background()
	sample := func(seed uint64) float64 {
		b := &Backend{ArrivalEvery: 10 * time.Millisecond, Latency: 10 * time.Millisecond, Jitter: 50 * time.Millisecond}
		_ = b.Reset(ctx, framework.Episode{Seed: seed, InitialReplicas: 1})
		_ = b.Advance(ctx, time.Second)
		return b.Accounting().Cut().Latency.MeanMS()
	}
	a, a2, c := sample(1), sample(1), sample(2)
	if a != a2 {
		t.Errorf("same seed, means %v and %v", a, a2)
	}
	if a == c {
		t.Errorf("seeds 1 and 2 both give mean %v", a)
	}
	// 100 latencies uniform in [10, 60) ms: the mean is near 35 ms.
	if a < 25 || a > 45 {
		t.Errorf("mean %v ms, want near 35", a)
	}
}

func TestActuatorAndDesign(t *testing.T) {
	ctx := context.Background()
	b := &Backend{}
	_ = b.Reset(ctx, framework.Episode{InitialReplicas: 2})
	s := NewSetup(b, 1, 4)
	c, err := s.Design.Translate(framework.Action{Values: []float64{2.6}}, framework.ClusterView{})
	if err != nil || c.Replicas == nil || *c.Replicas != 3 {
		t.Fatalf("Translate(2.6) = %+v, %v; want 3 replicas", c, err)
	}
	ap, err := s.Actuator.Apply(ctx, c)
	if err != nil || ap.Replicas != 3 || !ap.Changed || b.Replicas() != 3 {
		t.Errorf("Apply: %+v, %v; backend at %d", ap, err, b.Replicas())
	}
	if ap, _ := s.Actuator.Apply(ctx, framework.Command{}); ap.Changed || ap.Replicas != 3 {
		t.Errorf("empty command: %+v, want unchanged 3", ap)
	}
	obs, err := s.Collector.Collect(ctx)
	if err != nil || obs.Cluster.Replicas.Desired != 3 || obs.Values[0] != 3 || len(s.Collector.Features()) != 2 {
		t.Errorf("Collect: %+v, %v", obs, err)
	}
	if a, ok := s.Design.Hold(obs.Cluster); !ok || a.Values[0] != 3 {
		t.Errorf("Hold = %v, %v; want [3], true", a, ok)
	}
	if err := s.Design.Space().Contains(framework.Action{Values: []float64{5}}); err == nil {
		t.Error("5 is inside Box [1, 4]")
	}
}

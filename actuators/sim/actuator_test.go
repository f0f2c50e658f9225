package sim_test

import (
	"context"
	"testing"
	"time"

	actuatorsim "github.com/scalelab/scalelab/actuators/sim"
	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/load"
	"github.com/scalelab/scalelab/sim"
)

func setup(t *testing.T, rps float64, replicas int) (*sim.Sim, framework.Actuator) {
	t.Helper()
	sc, _ := sim.BuiltinScenario(sim.DefaultScenario)
	s, err := sim.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Reset(context.Background(), framework.Episode{Seed: 2, Load: load.Load{Profile: load.Constant{RPS: rps}}, InitialReplicas: replicas, SLO: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	r := framework.NewRegistry()
	actuatorsim.Register(r)
	a, err := r.Actuators["sim"].New(framework.BuildContext{Backend: s, Workload: framework.WorkloadConfig{MinReplicas: 1, MaxReplicas: 4}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, a
}

func TestApplyReplicasBatchingCPU(t *testing.T) {
	s, a := setup(t, 300, 1)
	ctx := context.Background()
	ap, err := a.Apply(ctx, framework.Command{Replicas: framework.IntPtr(3)})
	if err != nil || ap.Replicas != 3 || !ap.Changed {
		t.Fatalf("replicas: %+v %v", ap, err)
	}
	ap, _ = a.Apply(ctx, framework.Command{Replicas: framework.IntPtr(3)})
	if ap.Changed {
		t.Fatal("setting the same replicas is not a change")
	}
	b := s.Batching()
	b.MaxBatchSize = 8
	ap, err = a.Apply(ctx, framework.Command{Batching: &b})
	if err != nil || !ap.Changed || ap.Note == "" {
		t.Fatalf("batching: %+v %v", ap, err)
	}
	if got := s.Batching().MaxBatchSize; got != 8 {
		t.Fatalf("template batch size %d", got)
	}
	ap, err = a.Apply(ctx, framework.Command{CPURequestMilli: framework.Int64Ptr(750)})
	if err != nil || !ap.Changed || s.CPURequestMilli() != 750 {
		t.Fatalf("cpu: %+v %v", ap, err)
	}
	if _, err := a.Apply(ctx, framework.Command{CPURequestMilli: framework.Int64Ptr(0)}); err == nil {
		t.Fatal("a zero CPU request must be an error")
	}
	if _, err := a.Apply(ctx, framework.Command{HPATarget: framework.Float64Ptr(0)}); err == nil {
		t.Fatal("a 0 % HPA target must be an error")
	}
}

// TestHPATarget: at 2,600 req/s one pod is overloaded (its CPU limit is its request, so
// utilisation reads 100 %); the internal HPA at 70 % scales up: 1 → 2 (100/70 → ceil 1.43·1 = 2),
// then to three pods where each uses ≈ 870/1000·… ≈ 0.35 core = 70 %.
func TestHPATarget(t *testing.T) {
	s, a := setup(t, 2600, 1)
	ctx := context.Background()
	if _, err := a.Apply(ctx, framework.Command{HPATarget: framework.Float64Ptr(70)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Advance(ctx, 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	if d := s.Desired(); d < 3 {
		t.Fatalf("desired %d after 5 min at 2,600 req/s with a 70 %% target, want ≥ 3", d)
	}
	if got := s.ClusterView(30*time.Second, 1, 4).HPATarget; got != 70 {
		t.Fatalf("cluster view HPA target %v, want 70", got)
	}
	// A new episode restarts the HPA's history and keeps it running.
	if err := s.Reset(ctx, framework.Episode{Seed: 3, Load: load.Load{Profile: load.Constant{RPS: 100}}, InitialReplicas: 4, SLO: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if err := s.Advance(ctx, 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	if d := s.Desired(); d != 1 {
		t.Fatalf("desired %d after 10 min at 100 req/s, want the HPA to scale down to 1", d)
	}
	// Explicit replicas stop the internal HPA.
	ap, err := a.Apply(ctx, framework.Command{Replicas: framework.IntPtr(4)})
	if err != nil || ap.Replicas != 4 {
		t.Fatalf("%+v %v", ap, err)
	}
	if err := s.Advance(ctx, 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	if d := s.Desired(); d != 4 {
		t.Fatalf("desired %d, want 4 with the HPA stopped", d)
	}
	if got := s.HPATarget(); got != 0 {
		t.Fatalf("HPA target %v after stopping, want 0", got)
	}
}

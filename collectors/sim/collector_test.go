package sim_test

import (
	"context"
	"math"
	"testing"
	"time"

	collectorsim "github.com/scalelab/scalelab/collectors/sim"
	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/load"
	"github.com/scalelab/scalelab/sim"
)

func newSim(t *testing.T, p load.Profile, replicas int) *sim.Sim {
	t.Helper()
	sc, ok := sim.BuiltinScenario(sim.DefaultScenario)
	if !ok {
		t.Fatal("no default scenario")
	}
	s, err := sim.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Reset(context.Background(), framework.Episode{Seed: 1, Load: load.Load{Profile: p}, InitialReplicas: replicas, SLO: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	return s
}

func build(t *testing.T, s *sim.Sim, names []string) framework.Collector {
	t.Helper()
	r := framework.NewRegistry()
	collectorsim.Register(r)
	var feats []framework.FeatureSpec
	for _, n := range names {
		f, err := framework.LookupFeature(n)
		if err != nil {
			t.Fatal(err)
		}
		feats = append(feats, f)
	}
	c, err := r.Collectors["sim"].New(framework.BuildContext{
		Backend: s, Features: feats,
		State:    framework.StateConfig{Window: 30 * time.Second, MaxAge: 2 * time.Minute},
		Workload: framework.WorkloadConfig{MinReplicas: 1, MaxReplicas: 4},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestEveryCatalogueFeature checks that the collector produces every catalogue feature:
// windowed ones invalid (NaN, never 0) before any data (gauges have their first sample at
// the start), all valid and plausible under steady load.
func TestEveryCatalogueFeature(t *testing.T) {
	s := newSim(t, load.Constant{RPS: 600}, 2)
	c := build(t, s, framework.FeatureNames())
	ctx := context.Background()
	obs, err := c.Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range c.Features() {
		gauge := map[string]bool{"replicas_desired": true, "replicas_ready": true, "replicas_pending": true,
			"queue_length": true, "mem_util": true, "gpu_mem_util": true}
		windowed := !gauge[f.Name]
		if windowed && (obs.Valid[i] || !math.IsNaN(obs.Values[i])) {
			t.Errorf("at the episode start %s = %v valid %v, want missing (NaN)", f.Name, obs.Values[i], obs.Valid[i])
		}
	}
	if err := s.Advance(ctx, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	obs, err = c.Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Expected values at 600 req/s on two pods: rate 600; CPU 600 × 0.4 ms = 0.24 core over
	// two 0.5-core requests → 0.24; two of four replicas; latency a few ms.
	want := map[string][2]float64{
		"request_rate":       {570, 630},
		"p50_latency_ms":     {1, 5},
		"p95_latency_ms":     {1.5, 10},
		"p99_latency_ms":     {1.5, 15},
		"mean_queue_ms":      {0, 1},
		"queue_length":       {0, 20},
		"qos_violation_rate": {0, 0.001},
		"cpu_util":           {0.22, 0.26},
		"mem_util":           {0.7, 0.8}, // 1536 MiB working set + a few 600 KiB requests of 2 GiB
		"gpu_util":           {0.3, 0.9},
		"gpu_mem_util":       {0.149, 0.151}, // 2 × (512 + 256) MiB of 10 GiB
		"replicas_desired":   {2, 2},
		"replicas_ready":     {2, 2},
		"replicas_pending":   {0, 0},
		"avg_batch_size":     {1, 2},
	}
	if len(want) != len(framework.Catalogue) {
		t.Fatalf("test covers %d features, catalogue has %d", len(want), len(framework.Catalogue))
	}
	for i, f := range c.Features() {
		w, ok := want[f.Name]
		if !ok {
			t.Errorf("no expectation for catalogue feature %s", f.Name)
			continue
		}
		if !obs.Valid[i] || obs.Values[i] < w[0] || obs.Values[i] > w[1] {
			t.Errorf("%s = %v (valid %v), want in [%v, %v]", f.Name, obs.Values[i], obs.Valid[i], w[0], w[1])
		}
		if obs.Age[i] < 0 || obs.Age[i] > 45*time.Second {
			t.Errorf("%s age %s out of range", f.Name, obs.Age[i])
		}
	}
}

// TestObservationLag checks the pipeline's lag: at 3m50s the app metrics were last scraped
// at 3m45s (15 s interval), the GPU metrics come from the DCGM sample at 3m30s (30 s) seen by
// the 3m45s scrape, cAdvisor's from the 3m30s scrape (30 s).
func TestObservationLag(t *testing.T) {
	s := newSim(t, load.Constant{RPS: 300}, 1)
	c := build(t, s, []string{"request_rate", "gpu_util", "cpu_util", "replicas_ready"})
	if err := s.Advance(context.Background(), 3*time.Minute+50*time.Second); err != nil {
		t.Fatal(err)
	}
	obs, err := c.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{5 * time.Second, 20 * time.Second, 20 * time.Second, 0}
	for i, w := range want {
		if obs.Age[i] != w {
			t.Errorf("%s age %s, want %s", c.Features()[i].Name, obs.Age[i], w)
		}
	}
}

// TestLatencyMissingWithoutCompletions: with no pod ready nothing completes, so latency
// quantiles are missing (NaN), while the QoS violation rate is 1 (every arrival dropped).
func TestLatencyMissingWithoutCompletions(t *testing.T) {
	s := newSim(t, load.Constant{RPS: 100}, 0)
	c := build(t, s, []string{"p95_latency_ms", "qos_violation_rate", "mean_queue_ms"})
	if err := s.Advance(context.Background(), time.Minute); err != nil {
		t.Fatal(err)
	}
	obs, _ := c.Collect(context.Background())
	if obs.Valid[0] || !math.IsNaN(obs.Values[0]) || obs.Valid[2] {
		t.Errorf("latency and queue time without completions must be missing: %v %v", obs.Values, obs.Valid)
	}
	if !obs.Valid[1] || obs.Values[1] != 1 {
		t.Errorf("qos_violation_rate = %v (valid %v), want 1", obs.Values[1], obs.Valid[1])
	}
}

// TestMetricsServerSamples checks the per-pod samples the HPA reads: "cpu" is the usage in
// millicores over the last 15 s metrics-server resolution, stamped at that scrape.
func TestMetricsServerSamples(t *testing.T) {
	s := newSim(t, load.Constant{RPS: 1000}, 2)
	c := build(t, s, []string{"request_rate"})
	if err := s.Advance(context.Background(), 2*time.Minute+7*time.Second); err != nil {
		t.Fatal(err)
	}
	obs, _ := c.Collect(context.Background())
	v := obs.Cluster
	if len(v.Pods) != 2 || v.Replicas.Ready != 2 || v.MinReplicas != 1 || v.MaxReplicas != 4 || v.CPURequestMilli != 500 {
		t.Fatalf("view %+v", v)
	}
	var total float64
	for _, p := range v.Pods {
		m, ok := p.Metrics["cpu"]
		if !ok {
			t.Fatalf("pod %s has no cpu sample", p.Name)
		}
		if !m.Timestamp.Equal(framework.SimEpoch.Add(2*time.Minute)) || m.Window != 15*time.Second {
			t.Errorf("cpu sample at %s over %s, want epoch+2m over 15s", m.Timestamp, m.Window)
		}
		total += m.Value
		for _, name := range []string{"memory", "inflight", "queue_ms", "gpu_util"} {
			if _, ok := p.Metrics[name]; !ok {
				t.Errorf("pod %s lacks %s", p.Name, name)
			}
		}
		if p.Phase != framework.PodRunning || !p.Ready || p.StartTime.IsZero() {
			t.Errorf("pod %+v", p)
		}
	}
	// 1,000 req/s × 0.4 ms = 400 millicores over both pods (±5 %: Poisson over 15 s).
	if math.Abs(total-400) > 20 {
		t.Errorf("summed cpu %.1f m, want ≈ 400 m", total)
	}
	if _, ok := v.Metrics["request_rate"]; !ok {
		t.Error("workload metrics lack request_rate")
	}
}

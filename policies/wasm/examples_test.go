package wasm

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/actions"
	"github.com/scalelab/scalelab/framework/frameworktest"
)

// loadCollector reports a toy service over the fake backend: with r replicas the p95
// latency is 120/r ms, the queue 10/r requests and the CPU utilisation 1.2/r, so a policy
// that scales out brings every feature down in a way the tests can work out by hand.
type loadCollector struct {
	b   *frameworktest.Backend
	max int
}

var loadFeatures = []string{"request_rate", "p95_latency_ms", "queue_length", "cpu_util", "replicas_desired", "replicas_ready"}

func (c *loadCollector) Features() []framework.FeatureSpec {
	out := make([]framework.FeatureSpec, len(loadFeatures))
	for i, n := range loadFeatures {
		out[i], _ = framework.LookupFeature(n)
	}
	return out
}

func (c *loadCollector) Collect(ctx context.Context) (framework.Observation, error) {
	r := c.b.Replicas()
	f := float64(r)
	return framework.Observation{
		Time:   c.b.Now(),
		Values: []float64{100, 120 / f, 10 / f, 1.2 / f, f, f},
		Valid:  []bool{true, true, true, true, true, true},
		Age:    make([]time.Duration, 6),
		Cluster: framework.ClusterView{Now: c.b.Now(), Replicas: framework.ReplicaCounts{Desired: r, Ready: r},
			MinReplicas: 1, MaxReplicas: c.max},
	}, nil
}

// runExample runs the example module in a complete loop (replica_delta, max_step 1, the
// runner's deadline path, guardrails [1, 4]) for 10 decisions and returns the replica
// trajectory and the KPIs.
func runExample(t *testing.T, module string, params map[string]any, seed uint64) ([]int, framework.KPIs) {
	t.Helper()
	b := &frameworktest.Backend{ArrivalEvery: 100 * time.Millisecond, Latency: 20 * time.Millisecond}
	design, err := actions.NewReplicaDelta(actions.ReplicaDeltaConfig{MaxStep: 1})
	if err != nil {
		t.Fatal(err)
	}
	col := &loadCollector{b: b, max: 4}
	cfg := *Defaults()
	cfg.Module, cfg.Params = module, params
	pol, err := New(context.Background(), cfg, Options{Name: "example", Seed: seed, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	defer pol.Close()
	interval := 15 * time.Second
	if err := pol.Init(framework.Specs{Features: col.Features(), Action: design.Space(), ActionDesign: design.Name(), Interval: interval}); err != nil {
		t.Fatal(err)
	}
	loop := &framework.Loop{
		Backend: b, Collector: col, Design: design, Actuator: &frameworktest.Actuator{Backend: b},
		Policy: pol, Fallback: framework.HoldFallback{}, Guard: &framework.Guardrails{Min: 1, Max: 4},
		Interval: interval, Deadline: time.Second, MaxFailures: 5,
	}
	var traj []int
	res, err := framework.RunEpisode(context.Background(), loop, framework.Episode{Seed: seed, InitialReplicas: 1, Duration: 10 * interval, SLO: 50 * time.Millisecond},
		framework.RunOptions{Duration: 10 * interval, OnDecision: func(d framework.Decision) { traj = append(traj, d.Applied.Replicas) }})
	if err != nil {
		t.Fatal(err)
	}
	return traj, res.KPIs
}

// TestExamplesInALoop builds each example with the Go toolchain and runs it as a policy.
// With latency 120/r ms: the threshold rule (up above 40, down below 15) climbs to 3
// replicas (40 ms is not above 40); the PI controller with target 30 ms climbs to 4 (30 ms);
// the hand-set MLP climbs to 3 (see sdk/examples/wasm-mlp/main_test.go for its logits).
func TestExamplesInALoop(t *testing.T) {
	cases := []struct {
		dir    string
		params map[string]any
		want   []int
	}{
		{"../../sdk/examples/wasm-threshold", map[string]any{"feature": "p95_latency_ms", "upper": 40, "lower": 15}, []int{2, 3, 3, 3, 3, 3, 3, 3, 3, 3}},
		// PI on p95 latency (target 30 ms) with the default gains kp 0.25, ki 0.4 and the
		// error e = (120/r − 30)/30 = 4/r − 1 clipped to ±1: u goes 1 → 1.65 (e 1) → 2.05 →
		// 2.45 → 2.85 (e 1 at 2 replicas) → 2.8167 (e 1/3 at 3) → 2.95 → 3.0833 → 3.2167 →
		// 3.35 → 3.4833; round(u) gives the trajectory, one replica per step at most.
		{"../../sdk/examples/wasm-pi", map[string]any{"feature": "p95_latency_ms", "target": 30, "max_replicas": 4}, []int{2, 2, 2, 3, 3, 3, 3, 3, 3, 3}},
		{"../../sdk/examples/wasm-mlp", nil, []int{2, 3, 3, 3, 3, 3, 3, 3, 3, 3}},
	}
	for _, tc := range cases {
		t.Run(tc.dir[len("../../sdk/examples/"):], func(t *testing.T) {
			module := buildGuest(t, tc.dir)
			traj, k := runExample(t, module, tc.params, 1)
			if fmt.Sprint(traj) != fmt.Sprint(tc.want) {
				t.Fatalf("replicas %v, want %v", traj, tc.want)
			}
			if k.Decisions != 10 || k.FallbackSteps != 0 || k.PolicyDisabled {
				t.Fatalf("KPIs: %d decisions, %d fallback steps, disabled %v; want 10, 0, false", k.Decisions, k.FallbackSteps, k.PolicyDisabled)
			}
			if k.Arrivals == 0 || k.MeanReplicas <= 1 {
				t.Fatalf("KPIs not accounted: %+v", k)
			}
		})
	}
}

// TestFailingGuestFallsBack runs a trapping guest in the loop: every step falls back to
// holding, and after the runner's max_consecutive_failures (here 3) the policy is disabled.
func TestFailingGuestFallsBack(t *testing.T) {
	b := &frameworktest.Backend{ArrivalEvery: 100 * time.Millisecond, Latency: 20 * time.Millisecond}
	design, _ := actions.NewReplicaDelta(actions.ReplicaDeltaConfig{MaxStep: 1})
	col := &loadCollector{b: b, max: 4}
	cfg := testConfig(writeModule(t, baseModule().with(fnAct([]byte{opUnreachable})).encode()))
	cfg.MaxFailures = 0
	pol := newPolicy(t, cfg, framework.Specs{Features: col.Features(), Action: design.Space(), ActionDesign: design.Name()}, 1)
	loop := &framework.Loop{
		Backend: b, Collector: col, Design: design, Actuator: &frameworktest.Actuator{Backend: b},
		Policy: pol, Fallback: framework.HoldFallback{}, Guard: &framework.Guardrails{Min: 1, Max: 4},
		Interval: 15 * time.Second, Deadline: time.Second, MaxFailures: 3,
	}
	res, err := framework.RunEpisode(context.Background(), loop, framework.Episode{Seed: 1, InitialReplicas: 2, Duration: time.Minute},
		framework.RunOptions{Duration: 75 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	k := res.KPIs
	if k.Decisions != 5 || k.FallbackSteps != 5 || !k.PolicyDisabled || b.Replicas() != 2 {
		t.Fatalf("decisions %d, fallbacks %d, disabled %v, replicas %d; want 5, 5, true, 2 (held)", k.Decisions, k.FallbackSteps, k.PolicyDisabled, b.Replicas())
	}
	// The first instance traps at the first act; the next two acts each instantiate afresh.
	if st := pol.Stats(); st.Acts != 3 || st.Instantiations != 3 || st.Failures != 3 {
		t.Fatalf("guest stats %+v: want 3 acts (then the runner disabled it), 3 instantiations, 3 failures", st)
	}
}

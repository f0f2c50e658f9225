package baselines

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scalelab/scalelab/framework"
)

var (
	t0       = framework.SimEpoch.Add(time.Hour)
	workload = framework.WorkloadConfig{MinReplicas: 1, MaxReplicas: 4, InitialReplicas: 1}
)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func TestRegister(t *testing.T) {
	r := framework.NewRegistry()
	Register(r)
	if got := framework.Types(r.Policies); !slices.Equal(got, []string{"kpa", "static", "threshold"}) {
		t.Fatalf("types %v", got)
	}
	for _, typ := range []string{"kpa", "static", "threshold"} {
		f := r.Policies[typ]
		p, err := f.New(framework.BuildContext{Workload: workload}, f.Defaults())
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if d := p.(framework.ActionDesignRequirer).RequiredActionDesign(); d != "replicas" {
			t.Errorf("%s: design %q", typ, d)
		}
		if _, ok := p.(framework.Builtin); !ok {
			t.Errorf("%s is not Builtin", typ)
		}
	}
	th := r.Policies["threshold"]
	errs := th.Check(framework.BuildContext{Features: []framework.FeatureSpec{{Name: "request_rate"}}}, th.Defaults())
	if len(errs) != 1 || errs[0].Error() != `feature: "cpu_util" is not in the state design [request_rate]; add it to state.features or to this policy's features` {
		t.Errorf("threshold Check: %v", errs)
	}
	st := r.Policies["static"]
	if errs := st.Check(framework.BuildContext{Workload: workload}, &StaticConfig{Replicas: 6}); len(errs) != 1 ||
		errs[0].Error() != "replicas: must lie within the workload's bounds [workload.min_replicas 1, workload.max_replicas 4], got 6" {
		t.Errorf("static Check: %v", errs)
	}
}

func TestStatic(t *testing.T) {
	tests := []struct {
		replicas, want int
	}{{0, 4}, {2, 2}}
	for _, tt := range tests {
		p, err := NewStatic(&StaticConfig{Replicas: tt.replicas}, workload)
		if err != nil {
			t.Fatal(err)
		}
		a, err := p.Act(context.Background(), framework.Observation{})
		if err != nil || a.Values[0] != float64(tt.want) {
			t.Errorf("replicas %d: got %v, %v; want %d", tt.replicas, a.Values, err, tt.want)
		}
	}
	if _, err := NewStatic(&StaticConfig{Replicas: -1}, workload); err == nil {
		t.Error("negative replicas accepted")
	}
}

func TestThresholdValidate(t *testing.T) {
	c := &ThresholdConfig{Feature: "cpu_utilization", Upper: 0.3, Lower: 0.5, StepUp: 0, StepDown: 0, UpCooldown: -1, DownCooldown: -1, WithinBoundsTrigger: 0, Period: 0}
	var keys []string
	for _, e := range c.Validate() {
		keys = append(keys, strings.SplitN(e.Error(), ":", 2)[0])
	}
	want := []string{"feature", "lower", "step_up", "step_down", "up_cooldown", "down_cooldown", "within_bounds_trigger", "period"}
	if !slices.Equal(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
}

var thresholdSpecs = []framework.FeatureSpec{{Name: "request_rate"}, {Name: "cpu_util"}}

func thresholdObs(s int, current int, cpu float64, valid bool) framework.Observation {
	return framework.Observation{
		Time:   at(s),
		Values: []float64{100, cpu},
		Valid:  []bool{true, valid},
		Cluster: framework.ClusterView{Now: at(s), Replicas: framework.ReplicaCounts{Desired: current},
			MinReplicas: workload.MinReplicas, MaxReplicas: workload.MaxReplicas},
	}
}

func TestThreshold(t *testing.T) {
	type step struct {
		at, current int
		cpu         float64
		valid       bool
		want        int
	}
	tests := []struct {
		name    string
		trigger int
		steps   []step
	}{
		{"steps and cooldowns", 1, []step{
			{0, 1, 0.9, true, 2},   // above 0.8 → +1; cooldown until 30 s
			{15, 2, 0.9, true, 2},  // in the up cooldown
			{30, 2, 0.9, true, 3},  // cooldown over (30 s is not before 30 s) → +1; until 60 s
			{45, 3, 0.5, true, 3},  // within [0.4, 0.8]: hold
			{60, 3, 0.2, true, 2},  // below 0.4 → −1; down cooldown until 180 s
			{75, 3, 0.9, true, 3},  // the down cooldown blocks a scale-up too
			{180, 2, 0.2, true, 1}, // → 1
			{300, 1, 0.2, true, 1}, // at min: no change, no cooldown
			{315, 1, 0.9, true, 2}, // so a scale-up right after is allowed
		}},
		{"max bound", 1, []step{{0, 4, 0.95, true, 4}, {15, 3, 0.95, true, 4}}},
		{"exactly at the thresholds holds", 1, []step{{0, 2, 0.8, true, 2}, {15, 2, 0.4, true, 2}}},
		{"missing value holds and restarts the count", 2, []step{
			{0, 2, 0.9, true, 2},   // 1 of 2
			{15, 2, 0, false, 2},   // invalid: count reset
			{30, 2, 0.9, true, 2},  // 1 of 2
			{45, 2, 0.9, true, 3},  // 2 of 2 → +1
			{120, 3, 0.3, true, 3}, // 1 of 2 below
			{135, 3, 0.6, true, 3}, // in band: reset
			{150, 3, 0.3, true, 3}, // 1 of 2
			{165, 3, 0.3, true, 2}, // 2 of 2 → −1
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultThresholdConfig()
			cfg.WithinBoundsTrigger = tt.trigger
			p, err := NewThreshold(cfg, workload)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Init(framework.Specs{Features: thresholdSpecs}); err != nil {
				t.Fatal(err)
			}
			for i, s := range tt.steps {
				a, err := p.Act(context.Background(), thresholdObs(s.at, s.current, s.cpu, s.valid))
				if err != nil {
					t.Fatal(err)
				}
				if got := int(a.Values[0]); got != s.want {
					t.Fatalf("step %d (t=%ds, current %d, cpu %v): got %d, want %d", i, s.at, s.current, s.cpu, got, s.want)
				}
			}
		})
	}
}

func TestThresholdInit(t *testing.T) {
	p, _ := NewThreshold(DefaultThresholdConfig(), workload)
	if _, err := p.Act(context.Background(), thresholdObs(0, 1, 0.9, true)); err == nil {
		t.Error("Act before Init succeeded")
	}
	err := p.Init(framework.Specs{Features: []framework.FeatureSpec{{Name: "request_rate"}, {Name: "p95_latency_ms"}}})
	if err == nil || err.Error() != `threshold: feature: "cpu_util" is not in the state design [request_rate p95_latency_ms]; add it to state.features or to this policy's features` {
		t.Errorf("Init: %v", err)
	}
	// Reset clears the cooldown.
	_ = p.Init(framework.Specs{Features: thresholdSpecs})
	p.Act(context.Background(), thresholdObs(0, 1, 0.9, true))
	p.Reset()
	if a, _ := p.Act(context.Background(), thresholdObs(1, 2, 0.9, true)); a.Values[0] != 3 {
		t.Errorf("after Reset: %v, want 3", a.Values)
	}
}

// kpaView is the cluster view at t0+s: ready pods each with the given in-flight count,
// desired replicas as the runner last set them.
func kpaView(s, ready int, inflight float64, desired int) framework.Observation {
	v := framework.ClusterView{Now: at(s), Replicas: framework.ReplicaCounts{Desired: desired, Ready: ready}}
	for i := range ready {
		v.Pods = append(v.Pods, framework.PodView{Name: "p" + string(rune('a'+i)), Phase: framework.PodRunning, Ready: true,
			Metrics: map[string]framework.MetricSample{"inflight": {Value: inflight, Timestamp: at(s)}}})
	}
	// A starting pod (not ready) and a terminating one are not scraped.
	v.Pods = append(v.Pods,
		framework.PodView{Name: "starting", Phase: framework.PodRunning, Metrics: map[string]framework.MetricSample{"inflight": {Value: 1000}}},
		framework.PodView{Name: "leaving", Phase: framework.PodRunning, Ready: true, Deleting: true, Metrics: map[string]framework.MetricSample{"inflight": {Value: 1000}}})
	return framework.Observation{Time: at(s), Cluster: v}
}

func kpaAct(t *testing.T, k *KPA, obs framework.Observation) int {
	t.Helper()
	a, err := k.Act(context.Background(), obs)
	if err != nil {
		t.Fatal(err)
	}
	return int(a.Values[0])
}

// TestKPAPanic follows Knative's panic mode through a surge, worked by hand with target 10,
// 2 s buckets, a 60 s stable window (30 buckets) and a 6 s panic window (3 buckets).
func TestKPAPanic(t *testing.T) {
	k, err := NewKPA(DefaultKPAConfig())
	if err != nil {
		t.Fatal(err)
	}
	// t = 0..60 s: one pod with 5 in flight: ceil(5/10) = 1, bounded below by
	// floor(1/2) = 0 → 1. One ready pod: no initial panic.
	for s := 0; s <= 60; s += 2 {
		if got := kpaAct(t, k, kpaView(s, 1, 5, 1)); got != 1 || k.Panicking() {
			t.Fatalf("t=%d: got %d (panic %v), want 1 in stable mode", s, got, k.Panicking())
		}
	}
	steps := []struct {
		s, ready     int
		inflight     float64
		want         int
		wantPanicked bool
	}{
		// Panic window 5, 5, 40 → 50/3 = 16.7 → ceil 2 = 2 × 1 ready ≥ 200 %: panic.
		// Stable (29×5 + 40)/30 = 6.2 → 1. Panic takes max(1, 2) = 2.
		{62, 1, 40, 2, true},
		// Panic window 5, 40, 40 → 28.3 → 3 (3/1 ≥ 2: still over, timer restarts).
		{64, 1, 40, 3, true},
		// 40, 40, 40 → 4 → 4.
		{66, 1, 40, 4, true},
		// Four pods with 10 each: total 40. Panic 40 → 4 = 1 × 4 ready: under the threshold,
		// but the panic started at 66 s lasts until 66 + 60 s. Stable buckets 10..68 s:
		// (26×5 + 3×40 + 40)/30 = 9.7 → 1, bounded below by floor(4/2) = 2; max(2, 4) = 4.
		{68, 4, 10, 4, true},
		// The load drops to 1 per pod (total 4): panic (40 + 40 + 4)/3 = 28 → 3 < 4, but no
		// scale-down while panicking: 4.
		{70, 4, 1, 4, true},
	}
	for _, st := range steps {
		if got := kpaAct(t, k, kpaView(st.s, st.ready, st.inflight, 4)); got != st.want || k.Panicking() != st.wantPanicked {
			t.Fatalf("t=%d: got %d (panic %v), want %d (panic %v)", st.s, got, k.Panicking(), st.want, st.wantPanicked)
		}
	}
	// Still panicking through 66 + 60 = 126 s (the exit needs panic start + 60 s < now).
	for s := 72; s <= 126; s += 2 {
		if got := kpaAct(t, k, kpaView(s, 4, 1, 4)); got != 4 || !k.Panicking() {
			t.Fatalf("t=%d: got %d (panic %v), want 4 while panicking", s, got, k.Panicking())
		}
	}
	// At 128 s panic ends. Stable window 70..128 s: all 4 → 4/10 → 1, bounded below by
	// floor(4 / max_scale_down_rate 2) = 2.
	if got := kpaAct(t, k, kpaView(128, 4, 1, 4)); got != 2 || k.Panicking() {
		t.Fatalf("t=128: got %d (panic %v), want 2 in stable mode", got, k.Panicking())
	}
}

func TestKPAInitialPanicAndScaleDownRate(t *testing.T) {
	k, _ := NewKPA(DefaultKPAConfig())
	// A fresh autoscaler seeing 8 ready pods starts in panic at 8: no load keeps 8 for a
	// stable window.
	for s := 0; s <= 60; s += 2 {
		if got := kpaAct(t, k, kpaView(s, 8, 0, 8)); got != 8 || !k.Panicking() {
			t.Fatalf("t=%d: got %d (panic %v), want 8 in the initial panic", s, got, k.Panicking())
		}
	}
	// Then the scale-down rate halves per decision: floor(8/2) = 4, floor(4/2) = 2, 1.
	for i, c := range []struct{ ready, want int }{{8, 4}, {4, 2}, {2, 1}, {1, 0}} {
		if got := kpaAct(t, k, kpaView(62+2*i, c.ready, 0, c.ready)); got != c.want {
			t.Fatalf("step %d: got %d, want %d", i, got, c.want)
		}
	}
	// Reset: a new episode starts in panic again.
	k.Reset()
	if got := kpaAct(t, k, kpaView(0, 3, 0, 3)); got != 3 || !k.Panicking() {
		t.Errorf("after Reset: got %d (panic %v)", got, k.Panicking())
	}
}

func TestKPAScaleUpRateAndNoData(t *testing.T) {
	cfg := DefaultKPAConfig()
	cfg.MaxScaleUpRate = 2
	k, _ := NewKPA(cfg)
	// No pod has a sample: hold the current desired count.
	obs := kpaView(0, 1, 0, 1)
	delete(obs.Cluster.Pods[0].Metrics, "inflight")
	if got := kpaAct(t, k, obs); got != 1 {
		t.Errorf("no data: got %d, want the current 1", got)
	}
	// 100 in flight on one pod wants 10 pods; the scale-up rate allows ceil(2 × 1) = 2.
	if got := kpaAct(t, k, kpaView(2, 1, 100, 1)); got != 2 {
		t.Errorf("got %d, want 2", got)
	}
}

func TestKPAScaleDownDelay(t *testing.T) {
	cfg := DefaultKPAConfig()
	cfg.ScaleDownDelay = 10 * time.Second
	cfg.PanicThresholdPercentage = 1000 // keep panic mode out of the way
	k, _ := NewKPA(cfg)
	// t=0: one pod with 35 in flight: ceil(35/10) = 4 (panic 4/1 < 10: stable mode).
	if got := kpaAct(t, k, kpaView(0, 1, 35, 1)); got != 4 {
		t.Fatalf("t=0: got %d, want 4", got)
	}
	// Then four idle pods. Stable averages 35/2, 35/3, 35/4, 35/5, 35/6 → 2, 2, 1, 1, 1 pods,
	// bounded below by floor(4/2) = 2: the decision is 2 from t=2 s, but the delay keeps the
	// highest decision of (t − 10 s, t]: the 4 of t=0 until t=10 s.
	for _, c := range []struct{ s, want int }{{2, 4}, {4, 4}, {6, 4}, {8, 4}, {10, 2}} {
		if got := kpaAct(t, k, kpaView(c.s, 4, 0, 4)); got != c.want {
			t.Fatalf("t=%d: got %d, want %d", c.s, got, c.want)
		}
	}
}

func TestTimedBuckets(t *testing.T) {
	b := newTimedBuckets(6*time.Second, 2*time.Second)
	if !b.isEmpty(at(0)) || b.windowAverage(at(0)) != 0 {
		t.Fatal("new buckets not empty")
	}
	b.record(at(0), 10)
	// One bucket written: a partial window averages over it alone.
	if got := b.windowAverage(at(0)); got != 10 {
		t.Errorf("partial window: %v, want 10", got)
	}
	b.record(at(2), 20)
	b.record(at(3), 5) // same 2 s bucket as 2 s
	if got := b.windowAverage(at(2)); got != (10+25)/2.0 {
		t.Errorf("two buckets: %v, want 17.5", got)
	}
	b.record(at(4), 30)
	b.record(at(6), 60) // overwrites the 0 s bucket
	if got := b.windowAverage(at(6)); got != (25+30+60)/3.0 {
		t.Errorf("full window: %v, want 38.33", got)
	}
	// No write for 2 s: the stale bucket is dropped and the average covers the rest.
	if got := b.windowAverage(at(8)); got != (30+60)/2.0 {
		t.Errorf("gap: %v, want 45", got)
	}
	// More than a window without data: empty.
	if !b.isEmpty(at(14)) || b.windowAverage(at(14)) != 0 {
		t.Error("stale buckets not empty")
	}
	b.record(at(20), 7)
	if got := b.windowAverage(at(20)); got != 7 {
		t.Errorf("after a reset: %v, want 7", got)
	}
	if math.IsNaN(b.windowAverage(at(21))) {
		t.Error("NaN average")
	}
}

func TestKPAValidate(t *testing.T) {
	c := &KPAConfig{TargetConcurrency: 0, StableWindow: time.Second, PanicWindowPercentage: 0, PanicThresholdPercentage: 100,
		MaxScaleUpRate: 1, MaxScaleDownRate: 1, ScaleDownDelay: -1, Tick: 0}
	var keys []string
	for _, e := range c.Validate() {
		keys = append(keys, strings.SplitN(e.Error(), ":", 2)[0])
	}
	want := []string{"target_concurrency", "stable_window", "panic_window_percentage", "panic_threshold_percentage",
		"max_scale_up_rate", "max_scale_down_rate", "scale_down_delay", "tick", "metric"}
	if !slices.Equal(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
	c = DefaultKPAConfig()
	c.Tick = 10 * time.Second // longer than the 6 s panic window
	if errs := c.Validate(); len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "tick: must not exceed the panic window (6s)") {
		t.Errorf("tick vs panic window: %v", errs)
	}
}

// TestKPAClampsToWorkloadBounds: like Knative's min-scale/max-scale, the result stays within
// the workload's bounds, so the action is always inside the replicas design's space.
// Two pods with 100 in flight at target 10 want ceil(200/10) = 20 pods; max is 4.
func TestKPAClampsToWorkloadBounds(t *testing.T) {
	k, err := NewKPA(DefaultKPAConfig())
	if err != nil {
		t.Fatal(err)
	}
	obs := kpaView(0, 2, 100, 2)
	obs.Cluster.MinReplicas, obs.Cluster.MaxReplicas = 1, 4
	if got := kpaAct(t, k, obs); got != 4 {
		t.Fatalf("got %d, want 4 (clamped to max)", got)
	}
}

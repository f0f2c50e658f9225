package framework_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/frameworktest"
)

func near(got, want, rel float64) bool { return math.Abs(got-want) <= rel*math.Abs(want) }

// TestRunEpisodeKPIsHandComputed runs 60 s of 10 s decisions with a 15 s warm-up on the fake
// backend and checks every KPI against arithmetic done by hand.
//
// Traffic: the k-th request arrives at k·100 ms. Request k is dropped if k ≡ 5 (mod 20),
// fails if k ≡ 7 (mod 40), takes 80 ms (over the 50 ms SLO) if k ≡ 0 (mod 10), else 20 ms.
// The policy asks for 2 replicas before 30 s and 3 from then on (initial 1).
func TestRunEpisodeKPIsHandComputed(t *testing.T) {
	b := &frameworktest.Backend{
		ArrivalEvery: 100 * time.Millisecond,
		Outcome: func(k int64, _ time.Duration, _ int) frameworktest.Outcome {
			switch {
			case k%20 == 5:
				return frameworktest.Outcome{Dropped: true}
			case k%40 == 7:
				return frameworktest.Outcome{Failed: true}
			case k%10 == 0:
				return frameworktest.Outcome{Latency: 80 * time.Millisecond}
			}
			return frameworktest.Outcome{Latency: 20 * time.Millisecond}
		},
		QueueFraction:     0.25,
		GPUBusyPerReplica: 0.3, CPUPerReplica: 0.5, CPURequestPerReplica: 1,
		MemPerReplica: 1e9, MemRequestPerReplica: 4e9, GPUMemPerReplica: 1e9, GPUMemTotal: 10e9,
	}
	s := frameworktest.NewSetup(b, 1, 5)
	p := frameworktest.PolicyFunc(func(_ context.Context, o framework.Observation) (framework.Action, error) {
		if o.Time.Sub(framework.SimEpoch) < 30*time.Second {
			return action(2), nil
		}
		return action(3), nil
	})
	l := s.Loop(p, interval)
	// Reward terms: cost = −2 × applied replicas; span = the step's window length in s.
	l.Reward = framework.NewWeightedReward([]framework.WeightedTerm{
		{Name: "cost", Weight: -2, Term: frameworktest.RewardTermFunc(func(s framework.StepInfo) float64 {
			return float64(s.Applied.Replicas)
		})},
		{Name: "span", Weight: 1, Term: frameworktest.RewardTermFunc(func(s framework.StepInfo) float64 {
			return s.Window.Duration().Seconds()
		})},
	})
	ds, res := run(t, l, episode(1, 1), framework.RunOptions{Duration: time.Minute, Warmup: 15 * time.Second})

	// The warm-up boundary at 15 s falls inside the decision at 10 s: the backend advances
	// 10 s, then 5 s + 5 s around the cut, then 10 s three more times.
	wantAdv := []time.Duration{10 * time.Second, 5 * time.Second, 5 * time.Second, 10 * time.Second,
		10 * time.Second, 10 * time.Second, 10 * time.Second}
	if len(b.Advances) != len(wantAdv) {
		t.Fatalf("advances %v, want %v", b.Advances, wantAdv)
	}
	for i := range wantAdv {
		if b.Advances[i] != wantAdv[i] {
			t.Fatalf("advances %v, want %v", b.Advances, wantAdv)
		}
	}
	if len(ds[1].Windows) != 2 || !ds[1].Windows[0].End.Equal(framework.SimEpoch.Add(15*time.Second)) ||
		!ds[1].Windows[1].Start.Equal(framework.SimEpoch.Add(15*time.Second)) {
		t.Fatalf("decision at 10 s windows %+v, want two cut exactly at 15 s", ds[1].Windows)
	}
	// Request 150 arrives at exactly 15 s and belongs to (10, 15]: the warm-up window has
	// requests 101..150 (50), the measured part 151..200.
	if a, b := ds[1].Windows[0].Totals.Arrivals, ds[1].Windows[1].Totals.Arrivals; a != 50 || b != 50 {
		t.Errorf("split windows hold %d and %d arrivals, want 50 and 50", a, b)
	}

	k := res.KPIs
	// Measured: (15, 60], 45 s; requests 151..600, 450 arrivals.
	//   drops:    k ≡ 5 (mod 20): 165, 185, …, 585 → (585−165)/20 + 1 = 22
	//   failures: k ≡ 7 (mod 40): 167, 207, …, 567 → (567−167)/40 + 1 = 11
	//   slow:     k ≡ 0 (mod 10): 160, 170, …, 600 → 45 (these classes are disjoint)
	//   fast:     450 − 22 − 11 − 45 = 372
	// completions = 372 + 45 = 417; SLO violations = 45.
	counts := []struct {
		name      string
		got, want int64
	}{
		{"arrivals", k.Arrivals, 450}, {"drops", k.Drops, 22}, {"failures", k.Failures, 11},
		{"completions", k.Completions, 417}, {"slo_violations", k.SLOViolations, 45},
		// Decisions whose windows end after 15 s: those at 10, 20, 30, 40, 50 s.
		{"decisions", int64(k.Decisions), 5},
		// The scale-up at 0 s happened in the warm-up; 2 → 3 at 30 s is measured.
		{"scale_events", int64(k.ScaleEvents), 1},
		{"fallback_steps", int64(k.FallbackSteps), 0},
	}
	for _, c := range counts {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	// Replicas: 2 over (15, 30], 3 over (30, 60] → 30 + 90 = 120 replica·s.
	// GPU busy: 0.6·15 + 0.9·30 = 36 s. CPU: 0.5 of 1 core requested per replica.
	// Memory: 1e9 of 4e9 bytes per replica. GPU memory: 2e9·15 + 3e9·30 = 120e9 byte·s
	// over 10e9 bytes × 45 s.
	floats := []struct {
		name      string
		got, want float64
	}{
		{"measured_seconds", k.MeasuredSeconds, 45},
		{"qos_violation_rate", k.QoSViolationRate, (45.0 + 22 + 11) / 450},
		{"drop_rate", k.DropRate, (22.0 + 11) / 450},
		{"throughput_rps", k.ThroughputRPS, 417.0 / 45},
		{"offered_rps", k.OfferedRPS, 10},
		{"replica_seconds", k.ReplicaSeconds, 120},
		{"mean_replicas", k.MeanReplicas, 120.0 / 45},
		{"mean_ready_replicas", k.MeanReadyReplicas, 120.0 / 45},
		{"gpu_seconds", k.GPUSeconds, 120},
		// Time-weighted 36/45 = 0.8; the mean of the five windows' utilisations
		// (0.6, 0.6, 0.9, 0.9, 0.9) would be 0.78.
		{"gpu_util", k.GPUUtil, 36.0 / 45},
		{"cpu_util", k.CPUUtil, 0.5},
		{"mem_util", k.MemUtil, 0.25},
		{"gpu_mem_util", k.GPUMemUtil, 120e9 / (10e9 * 45)},
		{"avg_batch_size", k.AvgBatchSize, 1},
		// (372·20 + 45·80)/417 = 11040/417 ms; a quarter of it queued.
		{"mean_latency_ms", k.MeanLatencyMS, 11040.0 / 417},
		{"mean_queue_ms", k.MeanQueueMS, 0.25 * 11040.0 / 417},
		// cost: −2 × (2 + 2 + 3 + 3 + 3) = −26 over the five measured decisions; span: each
		// decision's reward covers its whole 10 s interval, the split one included → 50.
		{"reward_total", k.RewardTotal, -26 + 50},
	}
	for _, c := range floats {
		if !near(c.got, c.want, 1e-12) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if k.RewardTerms["cost"] != -26 || k.RewardTerms["span"] != 50 {
		t.Errorf("reward terms %v, want cost −26, span 50", k.RewardTerms)
	}
	// Percentiles from the merged histogram, ranks round(q·417): p50 → 209 (a 20 ms request,
	// the first 372 are fast), p95 → round(396.15) = 396 and p99 → 413: 80 ms requests.
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"p50", k.P50LatencyMS, 20}, {"p95", k.P95LatencyMS, 80}, {"p99", k.P99LatencyMS, 80}} {
		if c.got < c.want || !near(c.got, c.want, 0.001) {
			t.Errorf("%s = %v ms, want %v (+ < 0.1 %%)", c.name, c.got, c.want)
		}
	}
	if res.Latency.Count() != 417 || res.Totals.Arrivals != 450 {
		t.Errorf("result histogram %d values, totals %d arrivals; want 417, 450", res.Latency.Count(), res.Totals.Arrivals)
	}
	if k.PolicyDisabled || k.DisabledAtS != -1 {
		t.Errorf("policy_disabled %v at %v, want false at -1", k.PolicyDisabled, k.DisabledAtS)
	}
}

// TestWarmupOnStepBoundary: a warm-up that ends where a decision starts needs no cut.
func TestWarmupOnStepBoundary(t *testing.T) {
	l, s := newLoop(frameworktest.Replicas(2))
	ds, res := run(t, l, episode(2, 1), framework.RunOptions{Duration: time.Minute, Warmup: 20 * time.Second})
	for i, d := range ds {
		if len(d.Windows) != 1 {
			t.Errorf("decision %d has %d windows, want 1", i, len(d.Windows))
		}
	}
	for _, a := range s.Backend.Advances {
		if a != interval {
			t.Fatalf("advances %v, want only 10 s", s.Backend.Advances)
		}
	}
	// (20, 60]: 40 s, requests 201..600.
	if res.KPIs.MeasuredSeconds != 40 || res.KPIs.Arrivals != 400 || res.KPIs.Decisions != 4 {
		t.Errorf("measured %v s, %d arrivals, %d decisions; want 40, 400, 4",
			res.KPIs.MeasuredSeconds, res.KPIs.Arrivals, res.KPIs.Decisions)
	}
}

// TestRunPercentileIsNotAveraged: a busy first half (100 req/s at 10 ms) and a quiet second
// half (1 req/s at 200 ms). The run's p95 comes from the merged histogram, ≈10 ms; the
// average of the two decisions' window p95s would be ≈105 ms.
func TestRunPercentileIsNotAveraged(t *testing.T) {
	b := &frameworktest.Backend{
		ArrivalEvery: 10 * time.Millisecond,
		Outcome: func(k int64, at time.Duration, _ int) frameworktest.Outcome {
			if at <= 10*time.Second {
				return frameworktest.Outcome{Latency: 10 * time.Millisecond}
			}
			if k%100 != 0 {
				return frameworktest.Outcome{Dropped: true}
			}
			return frameworktest.Outcome{Latency: 200 * time.Millisecond}
		},
	}
	s := frameworktest.NewSetup(b, 1, 5)
	ds, res := run(t, s.Loop(frameworktest.Replicas(1), interval), episode(1, 1), framework.RunOptions{Duration: 20 * time.Second})
	if len(ds) != 2 {
		t.Fatalf("%d decisions, want 2", len(ds))
	}
	// Window 1: requests 1..1000 at 10 ms; window 2: 1100, 1200, …, 2000 → 10 at 200 ms.
	w1, w2 := ds[0].Windows[0].Latency, ds[1].Windows[0].Latency
	if w1.Count() != 1000 || w2.Count() != 10 {
		t.Fatalf("window completions %d, %d; want 1000, 10", w1.Count(), w2.Count())
	}
	avg := (w1.QuantileMS(0.95) + w2.QuantileMS(0.95)) / 2
	// Merged: 1010 values, p95 rank round(959.5 + 0.5) = 960 ≤ 1000 → 10 ms.
	if got := res.KPIs.P95LatencyMS; got < 10 || !near(got, 10, 0.001) {
		t.Errorf("run p95 = %v ms, want ≈10 ms", got)
	}
	if near(res.KPIs.P95LatencyMS, avg, 0.5) {
		t.Errorf("run p95 %v is close to the average of window p95s %v; it must come from the merged histogram",
			res.KPIs.P95LatencyMS, avg)
	}
	// Mean: (1000·10 + 10·200)/1010 ms.
	if !near(res.KPIs.MeanLatencyMS, 12000.0/1010, 1e-12) {
		t.Errorf("run mean = %v, want %v", res.KPIs.MeanLatencyMS, 12000.0/1010)
	}
}

// cycling is a policy with per-episode state: its n-th call of an episode panics when
// n ≡ 4 (mod 10), returns NaN when n ≡ 7 (mod 10), and otherwise asks for 1 + (n + desired) mod 5
// replicas.
type cycling struct{ calls int }

func (c *cycling) Reset() { c.calls = 0 }

func (c *cycling) Act(_ context.Context, o framework.Observation) (framework.Action, error) {
	c.calls++
	switch c.calls % 10 {
	case 4:
		panic("bad state")
	case 7:
		return action(math.NaN()), nil
	}
	return action(float64(1 + (c.calls+o.Cluster.Replicas.Desired)%5)), nil
}

// runToFiles runs one episode with the given seed on l and returns the bytes of its KPI
// file and trajectory.
func runToFiles(t *testing.T, l *framework.Loop, feats []framework.FeatureSpec, seed uint64) (kpis, traj []byte) {
	t.Helper()
	dir := t.TempDir()
	tw, err := framework.NewTrajectoryWriter(filepath.Join(dir, "trajectory.csv"), feats, 1, l.Reward.Terms())
	if err != nil {
		t.Fatal(err)
	}
	ep := episode(1, seed)
	ep.Duration = 5 * time.Minute
	res, err := framework.RunEpisode(context.Background(), l, ep,
		framework.RunOptions{Duration: 5 * time.Minute, Warmup: 25 * time.Second, Trajectory: tw})
	if err != nil {
		tw.Abort()
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := framework.WriteKPIs(filepath.Join(dir, "kpis.json"), res.KPIs); err != nil {
		t.Fatal(err)
	}
	kpis, err = os.ReadFile(filepath.Join(dir, "kpis.json"))
	if err != nil {
		t.Fatal(err)
	}
	traj, err = os.ReadFile(filepath.Join(dir, "trajectory.csv"))
	if err != nil {
		t.Fatal(err)
	}
	return kpis, traj
}

// TestDeterminism: the same setup and seed give byte-identical KPI files and trajectories,
// also when the same loop is reused (Reset must clear the episode state of the loop, the
// guard, the backend and the policy); another seed gives different ones. The policy panics
// and returns NaN at fixed calls, so fallback steps are part of what must be reproducible.
func TestDeterminism(t *testing.T) {
	newSetup := func() (*framework.Loop, []framework.FeatureSpec) {
		b := traffic()
		b.ArrivalEvery = 20 * time.Millisecond
		b.Jitter = 60 * time.Millisecond // latencies 20–80 ms, drawn from the episode seed
		s := frameworktest.NewSetup(b, 1, 5)
		p := &cycling{}
		l := s.Loop(p, 15*time.Second)
		l.Reward = framework.NewWeightedReward([]framework.WeightedTerm{{Name: "p95", Weight: -0.01,
			Term: frameworktest.RewardTermFunc(func(s framework.StepInfo) float64 { return s.Window.Latency.QuantileMS(0.95) })}})
		l.Guard = &framework.Guardrails{Min: 1, Max: 4, MaxStep: 2}
		l.MaxFailures = 5
		return l, s.Collector.Features()
	}
	l1, feats := newSetup()
	k1, t1 := runToFiles(t, l1, feats, 42)
	k1again, t1again := runToFiles(t, l1, feats, 42) // same loop, reset
	l2, _ := newSetup()
	k2, t2 := runToFiles(t, l2, feats, 42) // fresh loop
	if !bytes.Equal(k1, k2) || !bytes.Equal(k1, k1again) {
		t.Errorf("same seed, different KPI files:\n%s\n---\n%s\n---\n%s", k1, k2, k1again)
	}
	if !bytes.Equal(t1, t2) || !bytes.Equal(t1, t1again) {
		t.Error("same seed, different trajectories")
	}
	l3, _ := newSetup()
	k3, _ := runToFiles(t, l3, feats, 43)
	if bytes.Equal(k1, k3) {
		t.Error("seeds 42 and 43 gave identical KPI files; the seed must drive the backend")
	}
	rows, err := csv.NewReader(bytes.NewReader(t1)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 21 {
		t.Fatalf("trajectory has %d rows, want 300 s / 15 s = 20 decisions + header", len(rows))
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	// Calls 4 and 14 panic, 7 and 17 return NaN: rows 4, 7, 14, 17 (1-based) are fallbacks.
	for r := 1; r < len(rows); r++ {
		want := "0"
		if c := r % 10; c == 4 || c == 7 {
			want = "1"
		}
		if got := rows[r][col["fallback"]]; got != want {
			t.Errorf("trajectory row %d fallback %q, want %q (reason %q)", r, got, want, rows[r][col["reason"]])
		}
		if want == "1" && rows[r][col["action_0"]] == "" && rows[r][col["reason"]] == "" {
			t.Errorf("trajectory row %d: a fallback with no reason", r)
		}
	}
	if got := rows[4][col["reason"]]; got != "policy panicked: bad state" {
		t.Errorf("row 4 reason %q, want the panic value only (no stack)", got)
	}
}

// TestTrajectoryMarksFallbackSteps: the run's trajectory marks the error, NaN and deadline
// steps, and the KPI record counts them.
func TestTrajectoryMarksFallbackSteps(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	p := &script{steps: []func(context.Context) (framework.Action, error){
		ok(3), fail("policy server returned 500"), ok(math.NaN()), ok(2),
		func(context.Context) (framework.Action, error) { <-release; return action(5), nil },
	}}
	l, s := newLoop(p)
	l.Deadline = deadline
	dir := t.TempDir()
	path := filepath.Join(dir, "trajectory.csv")
	tw, err := framework.NewTrajectoryWriter(path, s.Collector.Features(), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, res := run(t, l, episode(2, 1), framework.RunOptions{Duration: time.Minute, Trajectory: tw})
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	want := []struct{ time, fallback, deadline, reason, applied string }{
		{"0", "0", "0", "", "3"},
		{"10", "1", "0", "policy server returned 500", "3"},
		{"20", "1", "0", "invalid action: action [NaN] is not finite", "3"},
		{"30", "0", "0", "", "2"},
		{"40", "1", "1", "decision exceeded its deadline of 20ms", "2"},
		{"50", "1", "1", "previous decision still running past its deadline", "2"},
	}
	if len(rows) != len(want)+1 {
		t.Fatalf("%d rows, want %d", len(rows), len(want)+1)
	}
	for i, w := range want {
		r := rows[i+1]
		got := []string{r[col["time_s"]], r[col["fallback"]], r[col["deadline"]], r[col["reason"]], r[col["applied_replicas"]]}
		exp := []string{w.time, w.fallback, w.deadline, w.reason, w.applied}
		for j := range got {
			if got[j] != exp[j] {
				t.Errorf("row %d: (time, fallback, deadline, reason, applied) = %q, want %q", i+1, got, exp)
				break
			}
		}
		// Arrivals per 10 s decision: 100.
		if n, _ := strconv.Atoi(r[col["arrivals"]]); n != 100 {
			t.Errorf("row %d arrivals %d, want 100", i+1, n)
		}
	}
	if k := res.KPIs; k.FallbackSteps != 4 || k.DeadlineFallbacks != 2 || k.Arrivals != 600 {
		t.Errorf("KPIs: fallback %d, deadline %d, arrivals %d; want 4, 2, 600", k.FallbackSteps, k.DeadlineFallbacks, k.Arrivals)
	}
}

// TestLoopEnv: the gym-style Env applies the learner's action, reports its fallback steps
// and truncates at the episode length.
func TestLoopEnv(t *testing.T) {
	s := frameworktest.NewSetup(traffic(), 1, 5)
	l := s.Loop(nil, interval) // a learner supplies the actions
	l.MaxFailures = 0
	l.Reward = framework.NewWeightedReward([]framework.WeightedTerm{{Name: "cost", Weight: -1,
		Term: frameworktest.RewardTermFunc(func(s framework.StepInfo) float64 { return float64(s.Applied.Replicas) })}})
	specs := framework.Specs{Features: s.Collector.Features(), Action: s.Design.Space(), ActionDesign: s.Design.Name(), Interval: interval}
	env := &framework.LoopEnv{Loop: l, Duration: 30 * time.Second, EnvSpecs: specs,
		Episode: func(seed uint64) framework.Episode { return episode(2, seed) }}
	ctx := context.Background()
	obs, err := env.Reset(ctx, 9)
	if err != nil {
		t.Fatal(err)
	}
	if obs.Cluster.Replicas.Desired != 2 || s.Backend.Episode.Seed != 9 {
		t.Fatalf("reset: %d replicas, seed %d; want 2, 9", obs.Cluster.Replicas.Desired, s.Backend.Episode.Seed)
	}
	steps := []struct {
		a         framework.Action
		replicas  int
		reward    float64
		fallback  bool
		truncated bool
	}{
		{action(4), 4, -4, false, false},
		{action(math.NaN()), 4, -4, true, false}, // held by the fallback
		{action(1), 1, -1, false, true},          // 30 s elapsed
	}
	for i, st := range steps {
		r, err := env.Step(ctx, st.a)
		if err != nil {
			t.Fatal(err)
		}
		if r.Obs.Cluster.Replicas.Desired != st.replicas || r.Reward != st.reward || r.Fallback != st.fallback ||
			r.Truncated != st.truncated || r.Terminated || len(r.Terms) != 1 {
			t.Errorf("step %d: %+v; want replicas %d, reward %v, fallback %v, truncated %v",
				i, r, st.replicas, st.reward, st.fallback, st.truncated)
		}
	}
	if env.Specs().ActionDesign != "replicas" {
		t.Errorf("specs %+v", env.Specs())
	}
	if err := env.Close(); err != nil || !s.Backend.Closed {
		t.Errorf("Close: %v, backend closed %v", err, s.Backend.Closed)
	}
}

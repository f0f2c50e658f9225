package framework

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// window builds a window (t0+from, t0+to] with the given totals and latencies.
func window(from, to time.Duration, tot Totals, lat ...time.Duration) Window {
	h := NewHistogram()
	for _, l := range lat {
		h.Record(l)
	}
	return Window{Start: t0.Add(from), End: t0.Add(to), Totals: tot, Latency: h}
}

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

func TestKPIAccumulatorHandComputed(t *testing.T) {
	const s = time.Second
	// Warm-up ends at 20 s. The first decision's window (0, 20] ends exactly at the boundary
	// and is excluded in full, including its 1000 slow requests and its scale event.
	warm := Decision{
		PrevReplicas: 1, Applied: Applied{Replicas: 4}, Fallback: true, Reward: 1000,
		Windows: []Window{window(0, 20*s, Totals{Arrivals: 1000, Completions: 1000, ReplicaSeconds: 80,
			GPUBusySeconds: 20, GPUCount: 1}, repeat(time.Second, 1000)...)},
	}
	// Measured: (20, 30] and (30, 60], 40 s in all.
	//
	// Window A, 10 s: 2 replicas, GPU busy the whole time, CPU 2 of 4 requested core·s,
	// 100 arrivals: 90 completions (80 at 10 ms, 10 at 100 ms, the latter over the 50 ms SLO),
	// 6 drops, 4 failures.
	a := window(20*s, 30*s, Totals{
		Arrivals: 100, Completions: 90, Drops: 6, Failures: 4, SLOViolations: 10,
		ReplicaSeconds: 20, ReadyReplicaSeconds: 15, GPUSeconds: 20, GPUBusySeconds: 10, GPUCount: 1,
		CPUSeconds: 2, CPURequestSeconds: 4, MemByteSeconds: 10e9, MemRequestByteSeconds: 20e9,
		GPUMemByteSeconds: 20e9, GPUMemTotalBytes: 10e9, Batches: 30, BatchedRequests: 90,
		QueueSeconds: 0.9, OfferedRequests: 100,
	}, append(repeat(10*time.Millisecond, 80), repeat(100*time.Millisecond, 10)...)...)
	// Window B, 30 s: 1 replica, GPU idle, CPU 3 of 12 requested core·s, 300 arrivals, all
	// completed at 20 ms.
	b := window(30*s, 60*s, Totals{
		Arrivals: 300, Completions: 300,
		ReplicaSeconds: 30, ReadyReplicaSeconds: 30, GPUSeconds: 30, GPUBusySeconds: 0, GPUCount: 1,
		CPUSeconds: 3, CPURequestSeconds: 12, MemByteSeconds: 30e9, MemRequestByteSeconds: 60e9,
		GPUMemByteSeconds: 0, GPUMemTotalBytes: 10e9, Batches: 300, BatchedRequests: 300,
		QueueSeconds: 0.6, OfferedRequests: 310,
	}, repeat(20*time.Millisecond, 300)...)
	dA := Decision{PrevReplicas: 4, Applied: Applied{Replicas: 2}, Guard: GuardResult{Clamped: true},
		Terms: []float64{-2, 0.5}, Reward: -1.5, Windows: []Window{a}}
	dB := Decision{PrevReplicas: 2, Applied: Applied{Replicas: 1}, Guard: GuardResult{Limited: true},
		Fallback: true, Deadline: true, Terms: []float64{-1, 0.25}, Reward: -0.75, Windows: []Window{b}}
	// A dry-run decision that "would have" scaled is not a scale event; its window (60, 60]
	// is empty but ends after the warm-up, so the decision counts.
	dC := Decision{PrevReplicas: 1, Applied: Applied{Replicas: 1, DryRun: true}, Windows: []Window{window(60*s, 60*s, Totals{})}}

	acc := NewKPIAccumulator(t0.Add(20*s), []string{"cost", "gpu"})
	for _, d := range []Decision{warm, dA, dB, dC} {
		acc.Add(d)
	}
	k := acc.Finish(45 * s)

	exact := []struct {
		name      string
		got, want float64
	}{
		{"measured_seconds", k.MeasuredSeconds, 40},
		// (10 over SLO + 6 drops + 4 failures) / 400 arrivals = 20/400.
		{"qos_violation_rate", k.QoSViolationRate, 20.0 / 400},
		// (6 + 4) / 400.
		{"drop_rate", k.DropRate, 10.0 / 400},
		// 390 completions / 40 s.
		{"throughput_rps", k.ThroughputRPS, 390.0 / 40},
		// 410 expected arrivals / 40 s.
		{"offered_rps", k.OfferedRPS, 410.0 / 40},
		// (20 + 30) replica·s / 40 s = 1.25 (a window average would say 1.5).
		{"mean_replicas", k.MeanReplicas, 50.0 / 40},
		{"mean_ready_replicas", k.MeanReadyReplicas, 45.0 / 40},
		{"replica_seconds", k.ReplicaSeconds, 50},
		{"gpu_seconds", k.GPUSeconds, 50},
		// GPU busy 10 s of 1 GPU × 40 s = 0.25 (window average: (1 + 0)/2 = 0.5).
		{"gpu_util", k.GPUUtil, 10.0 / 40},
		// CPU (2 + 3) / (4 + 12) core·s = 0.3125 (window average: (0.5 + 0.25)/2 = 0.375).
		{"cpu_util", k.CPUUtil, 5.0 / 16},
		{"mem_util", k.MemUtil, 40e9 / 80e9},
		// 20e9 byte·s / (10e9 bytes × 40 s) = 0.05.
		{"gpu_mem_util", k.GPUMemUtil, 20e9 / (10e9 * 40)},
		// 390 requests in 330 batches.
		{"avg_batch_size", k.AvgBatchSize, 390.0 / 330},
		// (0.9 + 0.6) s queued over 390 completions, in ms.
		{"mean_queue_ms", k.MeanQueueMS, 1500.0 / 390},
		{"reward_total", k.RewardTotal, -2.25},
		{"disabled_at_s", k.DisabledAtS, 45},
	}
	for _, c := range exact {
		if math.Abs(c.got-c.want) > 1e-12*math.Max(1, math.Abs(c.want)) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// Mean latency: (80·10 + 10·100 + 300·20)/390 = 7800/390 = 20 ms.
	if math.Abs(k.MeanLatencyMS-20) > 1e-9 {
		t.Errorf("mean_latency_ms = %v, want 20", k.MeanLatencyMS)
	}
	// Sorted latencies: 80 × 10 ms, 300 × 20 ms, 10 × 100 ms (390). Ranks round(q·390):
	// p50 → 195 → 20 ms; p95 → 371 → 20 ms; p99 → 386 → 100 ms. The warm-up's 1000 one-second
	// requests would have put every one of them at 1000 ms.
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"p50", k.P50LatencyMS, 20}, {"p95", k.P95LatencyMS, 20}, {"p99", k.P99LatencyMS, 100}} {
		if c.got < c.want || !within(c.got, c.want, 0.001) {
			t.Errorf("%s = %v ms, want %v ms (+ < 0.1 %%)", c.name, c.got, c.want)
		}
	}
	counts := []struct {
		name      string
		got, want int64
	}{
		{"arrivals", k.Arrivals, 400}, {"completions", k.Completions, 390}, {"drops", k.Drops, 6},
		{"failures", k.Failures, 4}, {"slo_violations", k.SLOViolations, 10},
		{"decisions", int64(k.Decisions), 3}, {"fallback_steps", int64(k.FallbackSteps), 1},
		{"deadline_fallbacks", int64(k.DeadlineFallbacks), 1}, {"clamped_steps", int64(k.ClampedSteps), 1},
		{"limited_steps", int64(k.LimitedSteps), 1}, {"scale_events", int64(k.ScaleEvents), 2},
	}
	for _, c := range counts {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if !k.PolicyDisabled {
		t.Error("policy_disabled = false, want true (Finish got disabledAt ≥ 0)")
	}
	if want := map[string]float64{"cost": -3, "gpu": 0.75}; !reflect.DeepEqual(k.RewardTerms, want) {
		t.Errorf("reward_terms = %v, want %v", k.RewardTerms, want)
	}
	if acc.Histogram().Count() != 390 || acc.Totals().Arrivals != 400 {
		t.Errorf("accumulator histogram %d values, totals %d arrivals; want 390, 400",
			acc.Histogram().Count(), acc.Totals().Arrivals)
	}
}

// TestKPIAccumulatorSplitStep checks a decision whose interval straddles the warm-up
// boundary: only its window after the boundary is measured.
func TestKPIAccumulatorSplitStep(t *testing.T) {
	const s = time.Second
	d := Decision{Windows: []Window{
		window(10*s, 15*s, Totals{Arrivals: 50, Completions: 50, ReplicaSeconds: 5}, repeat(time.Second, 50)...),
		window(15*s, 20*s, Totals{Arrivals: 7, Completions: 7, ReplicaSeconds: 10}, repeat(5*time.Millisecond, 7)...),
	}}
	acc := NewKPIAccumulator(t0.Add(15*s), nil)
	acc.Add(d)
	k := acc.Finish(-1)
	if k.Arrivals != 7 || k.MeasuredSeconds != 5 || k.MeanReplicas != 2 || k.Decisions != 1 {
		t.Errorf("arrivals %d, measured %v s, mean replicas %v, decisions %d; want 7, 5, 2, 1",
			k.Arrivals, k.MeasuredSeconds, k.MeanReplicas, k.Decisions)
	}
	if math.Abs(k.MeanLatencyMS-5) > 1e-9 {
		t.Errorf("mean latency %v ms, want 5 (the warm-up's 1 s requests excluded)", k.MeanLatencyMS)
	}
	if k.PolicyDisabled || k.DisabledAtS != -1 {
		t.Errorf("policy_disabled %v, disabled_at_s %v; want false, -1", k.PolicyDisabled, k.DisabledAtS)
	}
}

// TestKPIAccumulatorEmptyRun checks that undefined KPIs are NaN, never a misleading 0.
func TestKPIAccumulatorEmptyRun(t *testing.T) {
	k := NewKPIAccumulator(t0, nil).Finish(-1)
	for _, n := range []string{"mean_latency_ms", "p95_latency_ms", "throughput_rps", "qos_violation_rate",
		"mean_replicas", "gpu_util", "cpu_util", "avg_batch_size", "mean_queue_ms"} {
		if v := k.Get(n); !math.IsNaN(v) {
			t.Errorf("%s of an empty run = %v, want NaN", n, v)
		}
	}
}

// TestKPIsGetMatchesJSON checks that Get(name) returns the field whose JSON name is name,
// for every KPI a table or the KPI file uses.
func TestKPIsGetMatchesJSON(t *testing.T) {
	var k KPIs
	v := reflect.ValueOf(&k).Elem()
	byName := map[string]float64{}
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		name := strings.Split(v.Type().Field(i).Tag.Get("json"), ",")[0]
		val := float64(i) + 0.5 // distinct per field
		switch f.Kind() {
		case reflect.Float64:
			f.SetFloat(val)
		case reflect.Int, reflect.Int64:
			val = float64(i)
			f.SetInt(int64(i))
		default:
			continue
		}
		byName[name] = val
	}
	names := append([]string{}, kpiFloatFields...)
	for _, n := range KPINames {
		names = append(names, n.Key)
	}
	names = append(names, "fallback_steps")
	for _, n := range names {
		want, ok := byName[n]
		if !ok {
			t.Errorf("%q is not the JSON name of any KPIs field", n)
			continue
		}
		if got := k.Get(n); got != want {
			t.Errorf("Get(%q) = %v, want the field's value %v", n, got, want)
		}
	}
	if !math.IsNaN(k.Get("no_such_kpi")) {
		t.Error("Get of an unknown name is not NaN")
	}
	// Every float field except the two bookkeeping ones is written through kpiFloatFields,
	// so WriteKPIs cannot forget a KPI added to the struct.
	listed := map[string]bool{"measured_seconds": true, "disabled_at_s": true}
	for _, n := range kpiFloatFields {
		listed[n] = true
	}
	for i := 0; i < v.NumField(); i++ {
		if v.Field(i).Kind() != reflect.Float64 {
			continue
		}
		if n := strings.Split(v.Type().Field(i).Tag.Get("json"), ",")[0]; !listed[n] {
			t.Errorf("float KPI %q is missing from kpiFloatFields (WriteKPIs would drop it)", n)
		}
	}
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, n := range kpiFloatFields {
		if _, ok := m[n]; !ok {
			t.Errorf("kpiFloatFields has %q, which KPIs does not marshal", n)
		}
	}
}

package rewards

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scalelab/scalelab/framework"
)

var t0 = framework.SimEpoch

// window returns a 15 s window with the given totals and latencies.
func window(tot framework.Totals, lat ...time.Duration) framework.Window {
	h := framework.NewHistogram()
	for _, l := range lat {
		h.Record(l)
	}
	return framework.Window{Start: t0, End: t0.Add(15 * time.Second), Totals: tot, Latency: h}
}

// repeat returns n copies of d.
func repeat(n int, d time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

func near(got, want, relTol float64) bool {
	if math.IsNaN(got) || math.IsNaN(want) {
		return math.IsNaN(got) && math.IsNaN(want)
	}
	return math.Abs(got-want) <= relTol*math.Max(1, math.Abs(want))
}

func TestGPUUtil(t *testing.T) {
	tests := []struct {
		name string
		s    framework.StepInfo
		want float64
	}{
		// 9 busy s / (1 GPU · 15 s) = 0.6.
		{"one GPU", framework.StepInfo{Window: window(framework.Totals{GPUBusySeconds: 9, GPUCount: 1})}, 0.6},
		// Busy seconds are summed over GPUs: 9 / (2 · 15) = 0.3.
		{"two GPUs", framework.StepInfo{Window: window(framework.Totals{GPUBusySeconds: 9, GPUCount: 2})}, 0.3},
		{"rounding above 1 clamps", framework.StepInfo{Window: window(framework.Totals{GPUBusySeconds: 15.000001, GPUCount: 1})}, 1},
		{"no GPU", framework.StepInfo{Window: window(framework.Totals{GPUBusySeconds: 9})}, 0},
		// A window without times falls back to the control interval: 3 / (1 · 10) = 0.3.
		{"interval fallback", framework.StepInfo{Interval: 10 * time.Second,
			Window: framework.Window{Totals: framework.Totals{GPUBusySeconds: 3, GPUCount: 1}}}, 0.3},
		{"no time at all", framework.StepInfo{Window: framework.Window{Totals: framework.Totals{GPUBusySeconds: 3, GPUCount: 1}}}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := (GPUUtil{}).Value(tc.s); !near(got, tc.want, 1e-12) {
				t.Errorf("Value = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCPUUtil(t *testing.T) {
	tests := []struct {
		name string
		cap  float64
		tot  framework.Totals
		want float64
	}{
		{"three quarters", 1, framework.Totals{CPUSeconds: 3, CPURequestSeconds: 4}, 0.75},
		{"burst above request capped at 1", 1, framework.Totals{CPUSeconds: 6, CPURequestSeconds: 4}, 1},
		{"higher cap lets the burst count", 2, framework.Totals{CPUSeconds: 6, CPURequestSeconds: 4}, 1.5},
		{"nothing requested", 1, framework.Totals{CPUSeconds: 6}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := NewCPUUtil(CPUUtilConfig{Cap: tc.cap})
			if err != nil {
				t.Fatal(err)
			}
			if got := u.Value(framework.StepInfo{Window: window(tc.tot)}); !near(got, tc.want, 1e-12) {
				t.Errorf("Value = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestReplicaCost(t *testing.T) {
	tests := []struct {
		name    string
		cfg     ReplicaCostConfig
		tot     framework.Totals
		maxRepl int
		want    float64
	}{
		// 45 replica-s over 15 s = 3 replicas on average; 3 / 4 = 0.75.
		{"replicas", DefaultReplicaCostConfig(), framework.Totals{ReplicaSeconds: 45, GPUSeconds: 30}, 4, -0.75},
		{"all replicas all step", DefaultReplicaCostConfig(), framework.Totals{ReplicaSeconds: 60}, 4, -1},
		// 30 GPU-share-s over 15 s = 2 shares; 2 / (4 · 1) = 0.5 (a Pending pod holds no share).
		{"gpu basis", ReplicaCostConfig{Basis: BasisGPU, GPUPerReplica: 1}, framework.Totals{ReplicaSeconds: 45, GPUSeconds: 30}, 4, -0.5},
		// 15 / 15 = 1 share; 1 / (4 · 0.5) = 0.5.
		{"gpu basis half share per pod", ReplicaCostConfig{Basis: BasisGPU, GPUPerReplica: 0.5}, framework.Totals{GPUSeconds: 15}, 4, -0.5},
		// max_replicas 0 is treated as 1: 15/15 / 1.
		{"max replicas unset", DefaultReplicaCostConfig(), framework.Totals{ReplicaSeconds: 15}, 0, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewReplicaCost(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			s := framework.StepInfo{Window: window(tc.tot), MaxReplicas: tc.maxRepl, MinReplicas: 1}
			if got := c.Value(s); !near(got, tc.want, 1e-12) {
				t.Errorf("Value = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLatency(t *testing.T) {
	const slo = 50 * time.Millisecond
	// 19 completions at 40 ms and one at 200 ms. Nearest-rank quantiles (HdrHistogram):
	// p95 → rank ⌊0.95·20 + 0.5⌋ = 19 → 40 ms (x = 0.8); p99 → rank 20 → 200 ms (x = 4);
	// mean = (19·40 + 200)/20 = 48 ms (x = 0.96). The histogram keeps 3 significant digits,
	// so quantiles carry ≤ 0.1 % error (the tolerance below); the mean is exact.
	lat := append(repeat(19, 40*time.Millisecond), 200*time.Millisecond)
	busy := window(framework.Totals{Arrivals: 20, Completions: 20}, lat...)
	cfg := func(mod func(*LatencyConfig)) LatencyConfig {
		c := DefaultLatencyConfig()
		mod(&c)
		return c
	}
	tests := []struct {
		name string
		cfg  LatencyConfig
		w    framework.Window
		want float64
	}{
		{"hinge p95 under SLO", DefaultLatencyConfig(), busy, 0},
		{"hinge p99 over SLO", cfg(func(c *LatencyConfig) { c.Quantile = 0.99 }), busy, -3},
		// margin 0.25: hinge at x = 0.75 → −(0.8 − 0.75).
		{"hinge margin", cfg(func(c *LatencyConfig) { c.Margin = 0.25 }), busy, -0.05},
		{"linear p95", cfg(func(c *LatencyConfig) { c.Shape = ShapeLinear }), busy, -0.8},
		{"linear p99", cfg(func(c *LatencyConfig) { c.Shape = ShapeLinear; c.Quantile = 0.99 }), busy, -4},
		{"linear mean", cfg(func(c *LatencyConfig) { c.Shape = ShapeLinear; c.Statistic = StatisticMean }), busy, -0.96},
		{"hinge mean under SLO", cfg(func(c *LatencyConfig) { c.Statistic = StatisticMean }), busy, 0},
		// −(e^(0.5·3) − 1) = −3.4816890703.
		{"exponential p99 k 0.5", cfg(func(c *LatencyConfig) { c.Shape = ShapeExponential; c.Quantile = 0.99; c.K = 0.5 }), busy, -3.4816890703380645},
		// −(e^3 − 1) = −19.09 → capped at 10.
		{"exponential capped", cfg(func(c *LatencyConfig) { c.Shape = ShapeExponential; c.Quantile = 0.99 }), busy, -10},
		{"exponential under SLO", cfg(func(c *LatencyConfig) { c.Shape = ShapeExponential }), busy, 0},
		// −4 capped at 2.5.
		{"linear capped", cfg(func(c *LatencyConfig) { c.Shape = ShapeLinear; c.Quantile = 0.99; c.Cap = 2.5 }), busy, -2.5},
		{"arrivals but no completions", DefaultLatencyConfig(), window(framework.Totals{Arrivals: 7, Drops: 7}), -10},
		{"arrivals and nil histogram", DefaultLatencyConfig(), framework.Window{Totals: framework.Totals{Arrivals: 7}}, -10},
		{"idle step", DefaultLatencyConfig(), window(framework.Totals{}), 0},
		// Completions of earlier arrivals still count: p95 of 10×100 ms = 100 ms, x = 2 → −1.
		{"completions without arrivals", DefaultLatencyConfig(), window(framework.Totals{Completions: 10}, repeat(10, 100*time.Millisecond)...), -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := NewLatency(tc.cfg, slo)
			if err != nil {
				t.Fatal(err)
			}
			if got := l.Value(framework.StepInfo{Window: tc.w, SLO: slo}); !near(got, tc.want, 2e-3) {
				t.Errorf("Value = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLatencySLOSource(t *testing.T) {
	l, err := NewLatency(LatencyConfig{Statistic: StatisticMean, Quantile: 0.95, Shape: ShapeLinear, K: 1, Cap: 10}, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	w := window(framework.Totals{Arrivals: 2, Completions: 2}, 20*time.Millisecond, 40*time.Millisecond)
	// Mean 30 ms. The step's SLO (50 ms) wins: −0.6; without one the configured 100 ms: −0.3.
	if got := l.Value(framework.StepInfo{Window: w, SLO: 50 * time.Millisecond}); !near(got, -0.6, 1e-12) {
		t.Errorf("with step SLO: %v, want -0.6", got)
	}
	if got := l.Value(framework.StepInfo{Window: w}); !near(got, -0.3, 1e-12) {
		t.Errorf("with configured SLO: %v, want -0.3", got)
	}
	if _, err := NewLatency(DefaultLatencyConfig(), 0); err == nil || !strings.Contains(err.Error(), "slo.latency") {
		t.Errorf("zero SLO: err = %v, want one naming slo.latency", err)
	}
}

func TestQoSViolation(t *testing.T) {
	tests := []struct {
		name string
		tot  framework.Totals
		want float64
	}{
		// (10 + 5 + 5) / 200 = 0.1.
		{"mixed", framework.Totals{Arrivals: 200, SLOViolations: 10, Drops: 5, Failures: 5}, -0.1},
		{"clean", framework.Totals{Arrivals: 200, Completions: 200}, 0},
		{"nothing arrived", framework.Totals{SLOViolations: 3}, 0},
		// A draining backlog: 30 bad events against 10 arrivals is bounded at −1.
		{"backlog bounded", framework.Totals{Arrivals: 10, SLOViolations: 30}, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := (QoSViolation{}).Value(framework.StepInfo{Window: window(tc.tot)}); !near(got, tc.want, 1e-12) {
				t.Errorf("Value = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestActionChange(t *testing.T) {
	tests := []struct {
		applied, prev, min, max int
		want                    float64
	}{
		{4, 1, 1, 4, -1},         // |4−1| / 3
		{2, 3, 1, 4, -1.0 / 3},   // |2−3| / 3
		{3, 3, 1, 4, 0},          // no change
		{2, 1, 1, 1, -1},         // range 0 → denominator 1
		{8, 2, 0, 16, -6.0 / 16}, // |8−2| / 16
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d_from_%d_in_%d_%d", tc.applied, tc.prev, tc.min, tc.max), func(t *testing.T) {
			s := framework.StepInfo{Applied: framework.Applied{Replicas: tc.applied}, PrevReplicas: tc.prev,
				MinReplicas: tc.min, MaxReplicas: tc.max}
			if got := (ActionChange{}).Value(s); !near(got, tc.want, 1e-12) {
				t.Errorf("Value = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  interface{ Validate() []error }
		want []string
	}{
		{"cpu_util defaults", DefaultCPUUtilConfig(), nil},
		{"cpu_util cap 0", CPUUtilConfig{}, []string{"cap: must be > 0 and finite, got 0"}},
		{"replica_cost defaults", DefaultReplicaCostConfig(), nil},
		{"replica_cost bad", ReplicaCostConfig{Basis: "pods", GPUPerReplica: -1}, []string{
			`basis: must be replicas or gpu, got "pods"`, "gpu_per_replica: must be > 0 and finite, got -1"}},
		{"latency defaults", DefaultLatencyConfig(), nil},
		{"latency everything wrong", LatencyConfig{Statistic: "p95", Quantile: 1.5, Shape: "quadratic", Margin: 1, K: 0, Cap: -1}, []string{
			`statistic: must be quantile or mean, got "p95"`,
			"quantile: must be in (0, 1], got 1.5",
			`shape: must be linear, hinge or exponential, got "quadratic"`,
			"margin: must be in [0, 1), got 1",
			"k: must be > 0 and finite, got 0",
			"cap: must be > 0 and finite, got -1",
		}},
		{"latency quantile 1 allowed", LatencyConfig{Statistic: StatisticQuantile, Quantile: 1, Shape: ShapeLinear, K: 1, Cap: 1}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			errs := tc.cfg.Validate()
			if len(errs) != len(tc.want) {
				t.Fatalf("got %d errors %v, want %d %q", len(errs), errs, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if errs[i].Error() != w {
					t.Errorf("error %d = %q, want %q", i, errs[i], w)
				}
			}
		})
	}
}

func TestRegister(t *testing.T) {
	r := framework.NewRegistry()
	Register(r)
	want := []string{TypeActionChange, TypeCPUUtil, TypeGPUUtil, TypeLatency, TypeQoSViolation, TypeReplicaCost}
	if got := framework.Types(r.Rewards); !slices.Equal(got, want) {
		t.Fatalf("registered %v, want %v", got, want)
	}
	bc := framework.BuildContext{SLO: framework.SLOConfig{Latency: 50 * time.Millisecond}}
	// One step: every term's value through its factory, defaults in force.
	s := framework.StepInfo{
		Window: window(framework.Totals{Arrivals: 100, SLOViolations: 4, Drops: 1, GPUBusySeconds: 6, GPUCount: 1,
			CPUSeconds: 2, CPURequestSeconds: 8, ReplicaSeconds: 30}, repeat(100, 60*time.Millisecond)...),
		SLO: 50 * time.Millisecond, Applied: framework.Applied{Replicas: 3}, PrevReplicas: 2, MinReplicas: 1, MaxReplicas: 4,
	}
	wantValue := map[string]float64{
		TypeActionChange: -1.0 / 3, // |3−2| / (4−1)
		TypeCPUUtil:      0.25,     // 2 / 8
		TypeGPUUtil:      0.4,      // 6 / 15
		TypeLatency:      -0.2,     // hinge: 60/50 − 1
		TypeQoSViolation: -0.05,    // (4 + 1) / 100
		TypeReplicaCost:  -0.5,     // 30/15 / 4
	}
	for _, typ := range want {
		f := r.Rewards[typ]
		if f.Doc == "" {
			t.Errorf("%s: no Doc", typ)
		}
		var cfg any
		if f.Defaults != nil {
			cfg = f.Defaults()
		}
		term, err := f.New(bc, cfg)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if got := term.Value(s); !near(got, wantValue[typ], 2e-3) {
			t.Errorf("%s: Value = %v, want %v", typ, got, wantValue[typ])
		}
	}
	if _, err := r.Rewards[TypeLatency].New(bc, &LatencyConfig{Shape: "x"}); err == nil {
		t.Error("latency factory accepted an invalid config")
	}
	if _, err := r.Rewards[TypeCPUUtil].New(bc, &LatencyConfig{}); err == nil {
		t.Error("cpu_util factory accepted another term's config")
	}
}

// TestDefaultTags keeps each config struct's `default` tag in step with its Defaults
// function, and checks no config carries `weight` (the framework owns it).
func TestDefaultTags(t *testing.T) {
	r := framework.NewRegistry()
	Register(r)
	for _, typ := range framework.Types(r.Rewards) {
		f := r.Rewards[typ]
		if f.Defaults == nil {
			continue
		}
		v := reflect.ValueOf(f.Defaults()).Elem()
		for i := range v.NumField() {
			fld := v.Type().Field(i)
			key := fld.Tag.Get("mapstructure")
			if key == "weight" || key == "type" {
				t.Errorf("%s: config must not define %q", typ, key)
			}
			tag, ok := fld.Tag.Lookup("default")
			if !ok || fld.Tag.Get("doc") == "" || key == "" {
				t.Errorf("%s.%s: needs mapstructure, doc and default tags", typ, fld.Name)
				continue
			}
			if got := fmt.Sprint(v.Field(i).Interface()); got != tag {
				t.Errorf("%s.%s: default tag %q, Defaults() gives %q", typ, fld.Name, tag, got)
			}
		}
	}
}

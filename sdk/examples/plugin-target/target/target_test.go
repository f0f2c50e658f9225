package target

import (
	"errors"
	"math"
	"os"
	"strings"
	"testing"

	sdk "github.com/scalelab/scalelab/sdk/plugin"
)

func TestMain(m *testing.M) {
	os.Setenv(sdk.EnvLogLevel, "warn") // quiet Init's info record
	os.Exit(m.Run())
}

func spec(design string, features ...string) sdk.Spec {
	s := sdk.Spec{ActionDesign: design}
	for _, f := range features {
		s.Features = append(s.Features, sdk.Feature{Name: f})
	}
	switch design {
	case "replica_delta":
		s.Action = sdk.ActionSpace{Kind: sdk.KindDiscrete, Dim: 1, N: 5} // max_step 2
	case "replicas":
		s.Action = sdk.ActionSpace{Kind: sdk.KindBox, Dim: 1, Low: []float64{1}, High: []float64{4}}
	default:
		s.Action = sdk.ActionSpace{Kind: sdk.KindBox, Dim: 1, Low: []float64{10}, High: []float64{90}}
	}
	return s
}

func TestAct(t *testing.T) {
	nan := math.NaN()
	// Target 0.7, tolerance 0.1: desired = ⌈r · cpu / 0.7⌉ unless |cpu/0.7 − 1| ≤ 0.1.
	for _, tc := range []struct {
		name     string
		design   string
		cpu, r   float64
		cpuValid bool
		rValid   bool
		want     float64
	}{
		{"on target holds", "replica_delta", 0.7, 2, true, true, 2},                // delta 0 → index 2
		{"within tolerance holds", "replica_delta", 0.75, 2, true, true, 2},        // ratio 1.071
		{"one up", "replica_delta", 1.05, 2, true, true, 3},                        // ⌈2·1.5⌉ = 3 → +1
		{"clamped to max_step", "replica_delta", 2.8, 1, true, true, 4},            // ⌈1·4⌉ = 4 → +3 → +2
		{"two down", "replica_delta", 0.35, 4, true, true, 0},                      // ⌈4·0.5⌉ = 2 → −2
		{"missing value holds", "replica_delta", nan, 3, false, true, 2},           // hold
		{"no replica count steps up", "replica_delta", 1.4, nan, true, false, 3},   // r = 1: ⌈2⌉ = 2 > 1 → +1
		{"no replica count steps down", "replica_delta", 0.2, nan, true, false, 2}, // r = 1: ⌈0.29⌉ = 1 → hold
		{"absolute clamped to the box", "replicas", 1.4, 3, true, true, 4},         // ⌈3·2⌉ = 6 → 4
		{"absolute down", "replicas", 0.2, 2, true, true, 1},                       // ⌈2·0.286⌉ = 1
		{"absolute missing value holds", "replicas", nan, 3, false, true, 3},       // hold at 3
		{"zero replicas count as one", "replicas", 1.4, 0, true, true, 2},          // r = max(0,1): ⌈2⌉ = 2
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New(DefaultConfig())
			if err := p.Init(spec(tc.design, "cpu_util", "replicas_desired")); err != nil {
				t.Fatal(err)
			}
			a := []float64{nan}
			if err := p.Act([]float64{tc.cpu, tc.r}, []bool{tc.cpuValid, tc.rValid}, a); err != nil {
				t.Fatal(err)
			}
			if a[0] != tc.want {
				t.Errorf("action %v, want %v", a[0], tc.want)
			}
		})
	}
}

func TestActReplicasNeedsCount(t *testing.T) {
	p := New(DefaultConfig())
	if err := p.Init(spec("replicas", "cpu_util", "replicas_desired")); err != nil {
		t.Fatal(err)
	}
	if err := p.Act([]float64{0.9, math.NaN()}, []bool{true, false}, []float64{0}); err == nil {
		t.Error("the replicas design without a replica count must fail the decision")
	}
}

func TestInitRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		spec sdk.Spec
		want error
	}{
		{"missing feature", DefaultConfig(), spec("replica_delta", "p95_latency_ms"), sdk.ErrUnsupported},
		{"replicas without a count", DefaultConfig(), spec("replicas", "cpu_util"), sdk.ErrUnsupported},
		{"other design", DefaultConfig(), spec("hpa_target", "cpu_util"), sdk.ErrUnsupported},
		{"bad config", Config{Feature: "cpu_util", Target: 0, Tolerance: 0.1}, spec("replica_delta", "cpu_util"), sdk.ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := New(tc.cfg).Init(tc.spec); !errors.Is(err, tc.want) {
				t.Errorf("Init: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	err := Config{Feature: "", Target: math.Inf(1), Tolerance: -1}.Validate()
	for _, key := range []string{"feature:", "target:", "tolerance:"} {
		if err == nil || !contains(err.Error(), key) {
			t.Errorf("Validate = %v, want a %s error", err, key)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

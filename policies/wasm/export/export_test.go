package export

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/policies/ppo"
	"github.com/scalelab/scalelab/policies/wasm"
	"github.com/scalelab/scalelab/policies/wasm/gobuild"
)

// ckptCase is a checkpoint shape: features, action space, network options.
type ckptCase struct {
	name      string
	features  []string
	action    framework.ActionSpace
	hidden    []int
	act       string
	normObs   bool
	maskInput bool
}

var allFeatures = []string{"request_rate", "p95_latency_ms", "queue_length", "qos_violation_rate", "cpu_util", "gpu_util", "replicas_desired", "replicas_ready"}

var cases = []ckptCase{
	{"discrete 64x64 tanh, normalised", allFeatures, framework.ActionSpace{Kind: framework.Discrete, N: 3}, []int{64, 64}, "tanh", true, false},
	{"multi-discrete relu, masked", allFeatures[:5], framework.ActionSpace{Kind: framework.MultiDiscrete, Nvec: []int{3, 2}}, []int{16}, "relu", false, true},
	{"box tanh, normalised and masked", allFeatures[:4], framework.ActionSpace{Kind: framework.Box, Low: []float64{-1, 0}, High: []float64{1, 4}}, []int{32, 32}, "tanh", true, true},
}

// numParams is the parameter count of policies/ppo's actor-critic for the case:
// Σ (in·out + out) over the actor's layers and the critic's (hidden sizes, then 1), plus the
// log-std of a box.
func numParams(c ckptCase) int {
	in := len(c.features)
	if c.maskInput {
		in *= 2
	}
	var out, extra int
	switch c.action.Kind {
	case framework.Discrete:
		out = c.action.N
	case framework.MultiDiscrete:
		for _, k := range c.action.Nvec {
			out += k
		}
	case framework.Box:
		out, extra = len(c.action.Low), len(c.action.Low)
	}
	mlp := func(last int) int {
		n, w := 0, in
		for _, h := range append(slices.Clone(c.hidden), last) {
			n += w*h + h
			w = h
		}
		return n
	}
	return mlp(out) + mlp(1) + extra
}

func specsOf(c ckptCase) framework.Specs {
	s := framework.Specs{Action: c.action, ActionDesign: "test", Interval: 15 * time.Second}
	for _, n := range c.features {
		f, err := framework.LookupFeature(n)
		if err != nil {
			panic(err)
		}
		s.Features = append(s.Features, f)
	}
	return s
}

// writeCheckpoint writes a checkpoint with random parameters (N(0, 0.5²)) and, with
// norm_obs, random statistics.
func writeCheckpoint(t testing.TB, c ckptCase, seed uint64) string {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	params := make([]float64, numParams(c))
	for i := range params {
		params[i] = 0.5 * r.NormFloat64()
	}
	ck := &ppo.Checkpoint{
		Format: ppo.CheckpointFormat, Version: ppo.CheckpointVersion, ConfigHash: "test", Specs: specsOf(c),
		Network: ppo.NetworkSpec{ObsDim: len(c.features), HiddenSizes: c.hidden, Activation: c.act,
			MaskInput: c.maskInput, NormObs: c.normObs, ObsClip: 5, NumParams: len(params)},
		Params: params,
	}
	if c.normObs {
		ck.ObsNorm = ppo.NewRunningMeanStd(len(c.features))
		for i := range c.features {
			ck.ObsNorm.Mean[i] = 10 * r.Float64()
			ck.ObsNorm.Var[i] = 0.1 + 20*r.Float64()
		}
	}
	path := filepath.Join(t.TempDir(), "checkpoint.json")
	if err := ppo.WriteCheckpoint(path, ck); err != nil {
		t.Fatal(err)
	}
	return path
}

// randomObs draws an observation with values in [−5, 25), about 10 % of them missing and
// a few NaN values marked valid (the native policy treats those as missing too).
func randomObs(r *rand.Rand, n int) framework.Observation {
	o := framework.Observation{Values: make([]float64, n), Valid: make([]bool, n)}
	for i := range o.Values {
		o.Values[i] = -5 + 30*r.Float64()
		o.Valid[i] = r.Float64() >= 0.1
		if !o.Valid[i] {
			o.Values[i] = math.NaN()
		} else if r.Float64() < 0.02 {
			o.Values[i] = math.NaN()
		}
	}
	return o
}

// exported builds the case's checkpoint into a module (cached by content in the test) and
// returns the native policy and the WASM policy, both initialised.
func exported(t testing.TB, c ckptCase, seed uint64, edit ...func(*wasm.Config)) (*ppo.Policy, *wasm.Policy) {
	t.Helper()
	path := writeCheckpoint(t, c, seed)
	module := filepath.Join(t.TempDir(), "policy.wasm")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := Checkpoint(ctx, path, module); errors.Is(err, gobuild.ErrNoToolchain) {
		t.Skip(err)
	} else if err != nil {
		t.Fatal(err)
	}
	cfg := ppo.DefaultConfig()
	cfg.Checkpoint = path
	native, err := ppo.NewPolicy(cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	wcfg := *wasm.Defaults()
	wcfg.Module = module
	for _, e := range edit {
		e(&wcfg)
	}
	w, err := wasm.New(ctx, wcfg, wasm.Options{Name: "exported", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	specs := specsOf(c)
	if err := native.Init(specs); err != nil {
		t.Fatal(err)
	}
	if err := w.Init(specs); err != nil {
		t.Fatal(err)
	}
	return native, w
}

// TestExportedModuleActsAsTheCheckpoint compares the exported module's actions with the
// native checkpoint's on 300 random observations per shape. Discrete actions (argmax)
// must be identical. Box actions must agree to 1e-12: both compute the same float64
// operations in the same order, but Go's math.Exp (inside math.Tanh) is assembly on amd64
// and portable Go in a wasm guest, which may differ in the last bit.
func TestExportedModuleActsAsTheCheckpoint(t *testing.T) {
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			native, w := exported(t, c, uint64(i+1))
			r := rand.New(rand.NewPCG(uint64(i), 99))
			ctx := context.Background()
			exact := 0
			for k := 0; k < 300; k++ {
				o := randomObs(r, len(c.features))
				a, err := native.Act(ctx, o)
				if err != nil {
					t.Fatal(err)
				}
				b, err := w.Act(ctx, o)
				if err != nil {
					t.Fatalf("observation %d: %v", k, err)
				}
				if slices.Equal(a.Values, b.Values) {
					exact++
					continue
				}
				if c.action.Kind != framework.Box {
					t.Fatalf("observation %d %v: native %v, exported %v", k, o.Values, a.Values, b.Values)
				}
				for j := range a.Values {
					if d := math.Abs(a.Values[j] - b.Values[j]); d > 1e-12*(1+math.Abs(a.Values[j])) {
						t.Fatalf("observation %d: native %v, exported %v", k, a.Values, b.Values)
					}
				}
			}
			t.Logf("%d of 300 actions bit-identical", exact)
		})
	}
}

func TestModelFromCheckpointErrors(t *testing.T) {
	good := `{"format":"scalelab-ppo-checkpoint","version":1,"specs":{"features":[{"name":"a"}],"action":{"kind":"discrete","n":2}},
	"network":{"obs_dim":1,"hidden_sizes":[],"activation":"tanh","num_params":7},"params":[1,2,3,4,5,6,7]}`
	m, err := ModelFromCheckpoint([]byte(good), "good.json")
	if err != nil {
		t.Fatal(err)
	}
	// The actor is the single layer 1→2: weights [1 2], biases [3 4]; the critic follows.
	if len(m.Layers) != 1 || !slices.Equal(m.Layers[0].Weights, []float64{1, 2}) || !slices.Equal(m.Layers[0].Bias, []float64{3, 4}) {
		t.Fatalf("layers %+v", m.Layers)
	}
	bad := []struct{ name, doc, msg string }{
		{"other format", strings.Replace(good, "scalelab-ppo-checkpoint", "other", 1), `format "other"`},
		{"short params", strings.Replace(good, "[1,2,3,4,5,6,7]", "[1,2,3]", 1), "do not hold the actor layer 1→2"},
		{"param count", strings.Replace(good, `"num_params":7`, `"num_params":8`, 1), "7 parameters, the header says 8"},
		{"missing statistics", strings.Replace(good, `"tanh"`, `"tanh","norm_obs":true`, 1), "observation statistics are missing"},
		{"obs_dim", strings.Replace(good, `"obs_dim":1`, `"obs_dim":2`, 1), "obs_dim 2 but 1 features"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ModelFromCheckpoint([]byte(tc.doc), "bad.json"); err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want %q", err, tc.msg)
			}
		})
	}
}

func TestMissingToolchainIsExplained(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("GOROOT", "")
	m, err := ModelFromCheckpoint([]byte(`{"format":"scalelab-ppo-checkpoint","version":1,"specs":{"features":[{"name":"a"}],"action":{"kind":"discrete","n":2}},
	"network":{"obs_dim":1,"hidden_sizes":[],"activation":"tanh","num_params":7},"params":[1,2,3,4,5,6,7]}`), "x")
	if err != nil {
		t.Fatal(err)
	}
	err = Build(context.Background(), m, filepath.Join(t.TempDir(), "p.wasm"))
	if !errors.Is(err, gobuild.ErrNoToolchain) || !strings.Contains(err.Error(), "needs the Go toolchain") {
		t.Fatalf("error %v, want ErrNoToolchain", err)
	}
}

// BenchmarkActMLP64 measures one decision of the exported 64×64 PPO policy (8 features,
// discrete(3), normalised observations) in WASM and natively.
func BenchmarkActMLP64(b *testing.B) {
	native, w := exported(b, cases[0], 1)
	_, fast := exported(b, cases[0], 1, func(c *wasm.Config) { c.Interruptible = false })
	r := rand.New(rand.NewPCG(5, 5))
	obs := make([]framework.Observation, 64)
	for i := range obs {
		obs[i] = randomObs(r, len(allFeatures))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	for _, p := range []struct {
		name string
		pol  framework.Policy
	}{{"native-go", native}, {"wasm", w}, {"wasm-uninterruptible", fast}} {
		b.Run(p.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				_, err := p.pol.Act(ctx, obs[i%len(obs)])
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "median-ns")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
		})
	}
}

package ppo

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/policies/ppo/envs"
)

func TestRegister(t *testing.T) {
	r := framework.NewRegistry()
	Register(r)
	f, ok := r.Policies[Type]
	if !ok {
		t.Fatal("ppo not registered")
	}
	dir := t.TempDir()
	cfg := f.Defaults().(*Config)
	if cfg.LearningRate != 2.5e-4 || cfg.NumEnvs != 4 {
		t.Fatalf("factory defaults %+v", cfg)
	}
	cfg.Checkpoint = "agent/ppo.json"
	// A checkpoint that does not exist yet is neither referenced nor loaded.
	if files := f.Files(dir, cfg); len(files) != 0 {
		t.Fatalf("Files before training: %v", files)
	}
	pol, err := f.New(framework.BuildContext{BaseDir: dir}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := pol.(*Policy)
	if p.Trained() || p.CheckpointPath() != filepath.Join(dir, "agent/ppo.json") {
		t.Fatalf("trained %v path %q", p.Trained(), p.CheckpointPath())
	}
	if _, err := p.Act(context.Background(), framework.Observation{Values: []float64{0, 0, 0, 0}}); !errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("untrained Act: %v", err)
	}
	// Write a checkpoint where the config points: New loads it, Files references it.
	if err := os.MkdirAll(filepath.Join(dir, "agent"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteCheckpoint(p.CheckpointPath(), randomCheckpoint(t, *cfg, envs.NewCartPole().Specs())); err != nil {
		t.Fatal(err)
	}
	if files := f.Files(dir, cfg); len(files) != 1 || files[0] != p.CheckpointPath() {
		t.Fatalf("Files: %v", files)
	}
	pol, err = f.New(framework.BuildContext{BaseDir: dir}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !pol.(*Policy).Trained() {
		t.Fatal("checkpoint not loaded")
	}
}

// TestPolicyInitChecksSpecs: a checkpoint trained for one state/action design refuses
// another, naming what differs.
func TestPolicyInitChecksSpecs(t *testing.T) {
	cart := envs.NewCartPole().Specs()
	p := trainedTestPolicy(t, DefaultConfig(), envs.NewCartPole())
	if err := p.Init(cart); err != nil {
		t.Fatalf("matching specs: %v", err)
	}
	renamed := cart
	renamed.Features = append([]framework.FeatureSpec(nil), cart.Features...)
	renamed.Features[1].Name = "cart_speed"
	err := p.Init(renamed)
	if !errors.Is(err, ErrSpecsMismatch) || !strings.Contains(err.Error(), "cart_speed") {
		t.Fatalf("renamed feature: %v", err)
	}
	wider := cart
	wider.Action = framework.ActionSpace{Kind: framework.Discrete, N: 3}
	wider.ActionDesign = "replica_delta"
	if err := p.Init(wider); !errors.Is(err, ErrSpecsMismatch) || !strings.Contains(err.Error(), "discrete(3)") {
		t.Fatalf("other action space: %v", err)
	}
	// A policy initialised with specs refuses a checkpoint for others.
	q, _ := NewPolicy(DefaultConfig(), "")
	if err := q.Init(envs.NewPendulum().Specs()); err != nil {
		t.Fatal(err)
	}
	if err := q.adopt(randomCheckpoint(t, DefaultConfig(), cart), "x"); !errors.Is(err, ErrSpecsMismatch) {
		t.Fatalf("adopting a mismatched checkpoint: %v", err)
	}
}

// TestPolicyActDeterministic: Act is the argmax of the actor's logits, the same for the
// same observation; missing values and wrong lengths are handled.
func TestPolicyActDeterministic(t *testing.T) {
	p := trainedTestPolicy(t, DefaultConfig(), envs.NewCartPole())
	ctx := context.Background()
	m := p.model
	for _, vals := range [][]float64{{0.01, -0.2, 0.03, 0.1}, {1, 2, -0.1, -3}, {-2, 0, 0.2, 1}} {
		a, err := p.Act(ctx, framework.Observation{Values: vals, Valid: []bool{true, true, true, true}})
		if err != nil {
			t.Fatal(err)
		}
		out := m.net.actor.forward(m.params, vals, 1, newMLPWork(m.net.actor, 1))
		want := 0.0
		if out[1] > out[0] {
			want = 1
		}
		if a.Values[0] != want {
			t.Fatalf("action %v, argmax of %v is %v", a.Values, out, want)
		}
		b, _ := p.Act(ctx, framework.Observation{Values: vals, Valid: []bool{true, true, true, true}})
		if b.Values[0] != a.Values[0] {
			t.Fatal("Act is not deterministic")
		}
	}
	// A missing value acts like a 0 there.
	a, err := p.Act(ctx, framework.Observation{Values: []float64{math.NaN(), 1, 0.1, 0.2}, Valid: []bool{false, true, true, true}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := p.Act(ctx, framework.Observation{Values: []float64{0, 1, 0.1, 0.2}, Valid: []bool{true, true, true, true}})
	if a.Values[0] != b.Values[0] {
		t.Fatal("a missing value is not fed as 0")
	}
	if _, err := p.Act(ctx, framework.Observation{Values: []float64{1, 2}}); err == nil {
		t.Fatal("wrong observation length accepted")
	}
}

// TestPolicyActBoxClipped: a Gaussian policy acts with its mean, clipped to the bounds.
func TestPolicyActBoxClipped(t *testing.T) {
	cfg := DefaultConfig()
	specs := envs.NewPendulum().Specs()
	c := randomCheckpoint(t, cfg, specs)
	n, _ := c.network()
	// Make the mean huge: scale the actor's output layer.
	last := n.actor.layers[len(n.actor.layers)-1]
	for i := last.w; i < last.w+last.out*last.in; i++ {
		c.Params[i] *= 1e5
	}
	p, _ := NewPolicy(cfg, "")
	if err := p.adopt(c, "x"); err != nil {
		t.Fatal(err)
	}
	seen := map[float64]bool{}
	for _, th := range []float64{-3, -1, 0.5, 2} {
		a, err := p.Act(context.Background(), framework.Observation{Values: []float64{math.Cos(th), math.Sin(th), th}})
		if err != nil {
			t.Fatal(err)
		}
		if err := specs.Action.Contains(a); err != nil {
			t.Fatalf("action outside the box: %v", err)
		}
		seen[a.Values[0]] = true
	}
	if !seen[2] && !seen[-2] {
		t.Fatalf("no action hit the bound: %v", seen)
	}
}

// TestPolicyTrainThenAct trains through the framework.Trainer interface and checks the
// checkpoint lands at the configured path and the policy acts with it.
func TestPolicyTrainThenAct(t *testing.T) {
	dir := t.TempDir()
	cfg := smallCartPole()
	cfg.Checkpoint = "agents/cartpole.json"
	p, err := NewPolicy(cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	p.SetConfigHash("experiment-hash")
	if err := p.Init(envs.NewCartPole().Specs()); err != nil {
		t.Fatal(err)
	}
	var tr framework.Trainer = p
	if err := tr.Train(context.Background(), envFactory(envs.CartPoleV1), filepath.Join(dir, "out"), nil); err != nil {
		t.Fatal(err)
	}
	c, err := ReadCheckpoint(filepath.Join(dir, "agents/cartpole.json"))
	if err != nil {
		t.Fatal(err)
	}
	if c.ConfigHash != "experiment-hash" || !p.Trained() {
		t.Fatalf("hash %q trained %v", c.ConfigHash, p.Trained())
	}
	if _, err := p.Act(context.Background(), framework.Observation{Values: []float64{0, 0, 0, 0}}); err != nil {
		t.Fatal(err)
	}
	// A fresh policy from the same config loads what training wrote and acts the same.
	q, err := NewPolicy(cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range [][]float64{{0.1, 0, -0.05, 0.3}, {-0.5, 0.2, 0.1, -0.4}} {
		a, _ := p.Act(context.Background(), framework.Observation{Values: v})
		b, _ := q.Act(context.Background(), framework.Observation{Values: v})
		if a.Values[0] != b.Values[0] {
			t.Fatal("reloaded policy acts differently")
		}
	}
}

// TestCheckpointRoundTrip: parameters and statistics survive JSON exactly; damaged files
// are rejected with the reason.
func TestCheckpointRoundTrip(t *testing.T) {
	cfg := DefaultConfig()
	cfg.NormObs = true
	c := randomCheckpoint(t, cfg, envs.NewPendulum().Specs())
	c.ObsNorm.Update([]float64{0.3, -0.1, 1e-300}, nil)
	c.Params[5] = math.Nextafter(1, 2) // needs all 17 digits
	path := filepath.Join(t.TempDir(), "c.json")
	if err := WriteCheckpoint(path, c); err != nil {
		t.Fatal(err)
	}
	got, err := ReadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range c.Params {
		if got.Params[i] != c.Params[i] {
			t.Fatalf("parameter %d: %v → %v", i, c.Params[i], got.Params[i])
		}
	}
	for i := range c.ObsNorm.Mean {
		if got.ObsNorm.Mean[i] != c.ObsNorm.Mean[i] || got.ObsNorm.Var[i] != c.ObsNorm.Var[i] {
			t.Fatal("observation statistics changed")
		}
	}
	for _, tc := range []struct {
		name   string
		change func(*Checkpoint)
		want   string
	}{
		{"format", func(c *Checkpoint) { c.Format = "other" }, "format"},
		{"version", func(c *Checkpoint) { c.Version = 99 }, "version 99"},
		{"parameters", func(c *Checkpoint) { c.Params = c.Params[:10] }, "parameters"},
		{"activation", func(c *Checkpoint) { c.Network.Activation = "gelu" }, "activation"},
	} {
		bad := *c
		bad.Params = append([]float64(nil), c.Params...)
		bad.Network = c.Network
		tc.change(&bad)
		p := filepath.Join(t.TempDir(), tc.name+".json")
		if err := WriteCheckpoint(p, &bad); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadCheckpoint(p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s: error %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
	if _, err := NewPolicy(Config{}, ""); err == nil {
		t.Fatal("invalid config accepted")
	}
}

package ppo

import (
	"slices"
	"strings"
	"testing"
)

// TestDefaultConfigIsCleanRL pins CleanRL ppo.py's defaults.
func TestDefaultConfigIsCleanRL(t *testing.T) {
	c := DefaultConfig()
	if c.NumEnvs != 4 || c.NumSteps != 128 || c.NumMinibatches != 4 || c.UpdateEpochs != 4 ||
		c.LearningRate != 2.5e-4 || !c.AnnealLR || c.Gamma != 0.99 || c.GAELambda != 0.95 || !c.NormAdv ||
		c.ClipCoef != 0.2 || !c.ClipVLoss || c.EntCoef != 0.01 || c.VFCoef != 0.5 || c.MaxGradNorm != 0.5 ||
		c.TargetKL != 0 || c.TotalTimesteps != 500000 || c.Seed != 1 || c.AdamEps != 1e-5 ||
		len(c.HiddenSizes) != 2 || c.HiddenSizes[0] != 64 || c.Activation != "tanh" || c.BootstrapTruncation {
		t.Fatalf("defaults %+v", c)
	}
	if c.BatchSize() != 512 || c.MinibatchSize() != 128 || c.Iterations() != 976 {
		t.Fatalf("batch %d minibatch %d iterations %d", c.BatchSize(), c.MinibatchSize(), c.Iterations())
	}
	if errs := c.Validate(); len(errs) != 0 {
		t.Fatalf("defaults invalid: %v", errs)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		key    string
	}{
		{"envs", func(c *Config) { c.NumEnvs = 0 }, "num_envs: must be ≥ 1, got 0"},
		{"steps", func(c *Config) { c.NumSteps = -1 }, "num_steps"},
		{"minibatches", func(c *Config) { c.NumMinibatches = 0 }, "num_minibatches"},
		{"tiny minibatches", func(c *Config) { c.NumMinibatches = 512 }, "num_minibatches: leaves fewer than 2"},
		{"epochs", func(c *Config) { c.UpdateEpochs = 0 }, "update_epochs"},
		{"budget", func(c *Config) { c.TotalTimesteps = 100 }, "total_timesteps: must be ≥ num_envs·num_steps = 512"},
		{"lr", func(c *Config) { c.LearningRate = 0 }, "learning_rate"},
		{"gamma", func(c *Config) { c.Gamma = 1.5 }, "gamma"},
		{"lambda", func(c *Config) { c.GAELambda = -0.1 }, "gae_lambda"},
		{"clip", func(c *Config) { c.ClipCoef = 0 }, "clip_coef"},
		{"grad norm", func(c *Config) { c.MaxGradNorm = -1 }, "max_grad_norm"},
		{"target kl", func(c *Config) { c.TargetKL = -1 }, "target_kl"},
		{"hidden", func(c *Config) { c.HiddenSizes = []int{64, 0} }, "hidden_sizes: layer 1"},
		{"no hidden", func(c *Config) { c.HiddenSizes = nil }, "hidden_sizes"},
		{"activation", func(c *Config) { c.Activation = "gelu" }, "activation: unknown activation \"gelu\""},
		{"workers", func(c *Config) { c.EnvWorkers = -1 }, "env_workers"},
		{"window", func(c *Config) { c.Convergence.Window = 0 }, "convergence.window: must be ≥ 1, got 0"},
		{"min improvement", func(c *Config) { c.Convergence.MinImprovement = -0.1 }, "convergence.min_improvement"},
		{"floor", func(c *Config) { c.Convergence.ImprovementFloor = 0 }, "convergence.improvement_floor"},
		{"plateau patience", func(c *Config) { c.Convergence.PlateauPatience = 0 }, "convergence.plateau_patience"},
		{"probes", func(c *Config) { c.Convergence.Probes = -1 }, "convergence.probes"},
		{"stable without probes", func(c *Config) { c.Convergence.Probes, c.Convergence.StopOnStable = 0, true }, "convergence.probes: must be ≥ 1 with stop_on_stable"},
		{"min iterations", func(c *Config) { c.Convergence.MinIterations = -1 }, "convergence.min_iterations"},
		{"max kl", func(c *Config) { c.Convergence.Stability.MaxKL = -1 }, "convergence.stability.max_kl"},
		{"agreement", func(c *Config) { c.Convergence.Stability.MinAgreement = 1.5 }, "convergence.stability.min_agreement"},
		{"stable patience", func(c *Config) { c.Convergence.Stability.Patience = 0 }, "convergence.stability.patience"},
		{"tolerance", func(c *Config) { c.Convergence.Stability.ActionTolerance = -1 }, "convergence.stability.action_tolerance"},
		{"every", func(c *Config) { c.Validation.Every = -1 }, "validation.every"},
		{"episodes", func(c *Config) { c.Validation.Episodes = 0 }, "validation.episodes"},
		{"profile", func(c *Config) { c.Validation.Profiles = []string{""} }, "validation.profiles: entry 0 is empty"},
		{"select", func(c *Config) { c.Validation.Select = "latest" }, `validation.select: must be final or best, got "latest"`},
		{"best without validation", func(c *Config) { c.Validation.Select = SelectBest }, "validation.select: best needs validation.every > 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.change(&c)
			errs := c.Validate()
			if len(errs) == 0 || !strings.Contains(errs[0].Error(), tc.key) {
				t.Fatalf("errors %v, want one containing %q", errs, tc.key)
			}
		})
	}
	c := DefaultConfig()
	c.NumEnvs, c.Gamma = 0, 2
	if errs := c.Validate(); len(errs) < 2 {
		t.Fatalf("errors are not collected: %v", errs)
	}
}

func TestDecodeConfig(t *testing.T) {
	c, err := DecodeConfig(map[string]any{"type": "ppo", "env": "pendulum-v1", "num_envs": 8, "learning_rate": "3e-4",
		"hidden_sizes": []any{32, 32}, "anneal_lr": false,
		"convergence": map[string]any{"window": 5, "stop_on_plateau": true, "stability": map[string]any{"max_kl": 0.01}},
		"validation":  map[string]any{"every": 10, "select": "best", "profiles": []any{"low", "high"}}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Env != "pendulum-v1" || c.NumEnvs != 8 || c.LearningRate != 3e-4 || c.AnnealLR || c.HiddenSizes[1] != 32 || c.NumSteps != 128 {
		t.Fatalf("decoded %+v", c)
	}
	// Nested sections decode over their defaults.
	cv, va := c.Convergence, c.Validation
	if cv.Window != 5 || !cv.StopOnPlateau || cv.PlateauPatience != 20 || cv.Stability.MaxKL != 0.01 || cv.Stability.MinAgreement != 0.99 ||
		va.Every != 10 || va.Select != SelectBest || va.Episodes != 6 || !slices.Equal(va.Profiles, []string{"low", "high"}) {
		t.Fatalf("decoded convergence %+v validation %+v", cv, va)
	}
	if _, err := DecodeConfig(map[string]any{"convergence": map[string]any{"windw": 3}}); err == nil || !strings.Contains(err.Error(), "windw") {
		t.Fatalf("unknown nested key: %v", err)
	}
	if _, err := DecodeConfig(map[string]any{"learnin_rate": 1}); err == nil || !strings.Contains(err.Error(), "learnin_rate") {
		t.Fatalf("unknown key: %v", err)
	}
	if _, err := DecodeConfig(map[string]any{"num_envs": 0}); err == nil || !strings.Contains(err.Error(), "num_envs") {
		t.Fatalf("invalid value: %v", err)
	}
}

// TestConfigHash: the hash follows what training depends on, not where files go.
func TestConfigHash(t *testing.T) {
	a := DefaultConfig()
	b := a
	b.Checkpoint, b.EnvWorkers, b.Resume, b.CheckpointEvery = "x.json", 2, true, 7
	if a.Hash() != b.Hash() {
		t.Fatal("bookkeeping keys changed the hash")
	}
	b.EntCoef = 0.02
	if a.Hash() == b.Hash() {
		t.Fatal("ent_coef did not change the hash")
	}
	if len(a.Hash()) != 64 {
		t.Fatalf("hash %q", a.Hash())
	}
}

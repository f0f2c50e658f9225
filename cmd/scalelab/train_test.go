package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scalelab/scalelab/policies/ppo"
)

// TestTrainCommandConvergence trains CartPole with a plateau stop that fires as soon as it
// can (window 2: the reference exists from iteration 4; min_improvement 10 makes both
// iterations 4 and 5 plateaus; patience 2 stops after 5 of the 20 budgeted iterations),
// validating every 2 iterations and selecting the best: the command reports the stop and
// writes convergence.csv, best.json and the training curves.
func TestTrainCommandConvergence(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "cp.yaml")
	body := `train:
  type: ppo
  env: cartpole-v1
  total_timesteps: 2560
  num_steps: 32
  env_workers: 1
  eval_episodes: 2
  validation: {every: 2, episodes: 2, select: best}
  convergence: {stop_on_plateau: true, window: 2, plateau_patience: 2, min_improvement: 10}
`
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	stdout, err := runCLI(t, "train", cfg, "--out", out, "-q", "--dpi", "50")
	if err != nil {
		t.Fatalf("train: %v\n%s", err, stdout)
	}
	if !strings.Contains(stdout, "stop: plateau") || !strings.Contains(stdout, "training curves: ") {
		t.Errorf("output lacks the stop or the curves:\n%s", stdout)
	}
	for _, f := range []string{ppo.ConvergenceFile, ppo.BestFile, ppo.CheckpointFile, "plots/training.png", "plots/training.svg"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	var s ppo.Summary
	b, _ := os.ReadFile(filepath.Join(out, ppo.SummaryFile))
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	// Validations at iterations 2, 4 and at the stop, 5.
	if s.StopReason != ppo.StopPlateau || s.Iterations != 5 || s.Validations != 3 || s.Best == nil || s.Selected != ppo.SelectBest {
		t.Fatalf("summary: stop %q after %d iterations, %d validations, best %+v, selected %q", s.StopReason, s.Iterations, s.Validations, s.Best, s.Selected)
	}
}

// TestTrainExperimentValidation trains the seed agent's config for one iteration with
// validation on: the experiment hands the ppo policy its held-out validation episodes,
// the monitoring keys leave the training hash alone, and select: best changes it.
func TestTrainExperimentValidation(t *testing.T) {
	if testing.Short() {
		t.Skip("trains one iteration in the simulator")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	sets := []string{"--set", "policies.ppo.total_timesteps=480", "--set", "policies.ppo.checkpoint=" + filepath.Join(dir, "agent.json"),
		"--set", "policies.ppo.validation.episodes=3", "--set", "experiment.duration=5m",
		// configs/ppo-seed.yaml selects the best checkpoint; start from select: final, whose
		// validation keys are monitoring only.
		"--set", "policies.ppo.validation.select=final"}
	plain, err := runCLI(t, append([]string{"train", "../../configs/ppo-seed.yaml", "--out", filepath.Join(dir, "plain"), "-q", "--no-plots"}, sets...)...)
	if err != nil {
		t.Fatalf("train: %v\n%s", err, plain)
	}
	watched, err := runCLI(t, append([]string{"train", "../../configs/ppo-seed.yaml", "--out", out, "-q", "--no-plots", "--set", "policies.ppo.validation.every=1"}, sets...)...)
	if err != nil {
		t.Fatalf("train with validation: %v\n%s", err, watched)
	}
	hash := func(s string) string {
		i := strings.Index(s, "training hash ")
		if i < 0 {
			t.Fatalf("no training hash in %q", s)
		}
		return s[i+len("training hash ") : i+len("training hash ")+12]
	}
	if hash(plain) != hash(watched) {
		t.Errorf("validation.every changed the training hash: %s vs %s", hash(plain), hash(watched))
	}
	var s ppo.Summary
	b, _ := os.ReadFile(filepath.Join(out, ppo.SummaryFile))
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if s.Validations != 1 || s.Best == nil || s.Best.Iteration != 1 || s.Best.Episodes != 3 {
		t.Fatalf("summary: %d validations, best %+v", s.Validations, s.Best)
	}
	best, err := runCLI(t, append(append([]string{"train", "../../configs/ppo-seed.yaml", "--out", filepath.Join(dir, "best"), "-q", "--no-plots"}, sets...),
		"--set", "policies.ppo.validation.every=1", "--set", "policies.ppo.validation.select=best")...)
	if err != nil {
		t.Fatalf("train selecting the best: %v\n%s", err, best)
	}
	if hash(best) == hash(plain) {
		t.Error("validation.select: best left the training hash unchanged")
	}
}

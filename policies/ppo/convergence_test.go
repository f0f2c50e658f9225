package ppo

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/policies/ppo/envs"
)

// plateauCartPole stops on a plateau as soon as the test can run: with W = 2 the
// reference B exists from iteration 2W = 4 (B = MA₂), and min_improvement 10 calls
// everything short of an elevenfold moving average a plateau, so iterations 4 and 5 are
// plateau iterations and patience 2 stops after iteration 5 of the 20 the budget allows.
// It validates on 3 held-out episodes after every iteration and selects the best policy.
func plateauCartPole() Config {
	c := smallCartPole()
	c.TotalTimesteps = 4 * 32 * 20
	c.Convergence.Window, c.Convergence.PlateauPatience, c.Convergence.MinImprovement = 2, 2, 10
	c.Convergence.StopOnPlateau = true
	c.Validation.Every, c.Validation.Episodes, c.Validation.Select = 1, 3, SelectBest
	c.CheckpointEvery = 100
	return c
}

func readSummary(t *testing.T, dir string) Summary {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func column(t *testing.T, rows [][]string, name string) []string {
	t.Helper()
	i := slices.Index(rows[0], name)
	if i < 0 {
		t.Fatalf("no column %q in %v", name, rows[0])
	}
	out := make([]string, 0, len(rows)-1)
	for _, r := range rows[1:] {
		out = append(out, r[i])
	}
	return out
}

// TestPlateauStopAndBestCheckpoint trains CartPole until the plateau criterion stops it
// and checks what a user relies on: the stop and its reason in summary.json and
// convergence.csv, the validation columns, best.json as the highest validation mean
// (first on ties), checkpoint.json being that policy (select: best) while latest.json
// holds the last iteration's, and bit-identical results for the same seed whatever the
// number of environment workers.
func TestPlateauStopAndBestCheckpoint(t *testing.T) {
	var convs []string
	var ckpts [][]byte
	for _, workers := range []int{1, 2} {
		cfg := plateauCartPole()
		cfg.EnvWorkers = workers
		dir := t.TempDir()
		res, err := TrainValidation(context.Background(), cfg, "", dir, ValidationOptions{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.StopReason != StopPlateau || res.Iterations != 5 || res.GlobalStep != 5*128 {
			t.Fatalf("stop %q after %d iterations (%d steps), want plateau after 5 (640)", res.StopReason, res.Iterations, res.GlobalStep)
		}
		if s := readSummary(t, dir); s.StopReason != StopPlateau || s.Validations != 5 || s.Best == nil || s.Selected != SelectBest {
			t.Fatalf("summary.json: stop %q, %d validations, best %+v, selected %q", s.StopReason, s.Validations, s.Best, s.Selected)
		}
		rows := readRows(t, filepath.Join(dir, ConvergenceFile))
		if strings.Join(rows[0], ",") != strings.Join(convergenceHeader, ",") || len(rows) != 6 {
			t.Fatalf("convergence.csv: header %v and %d rows, want 5", rows[0], len(rows)-1)
		}
		if got := column(t, rows, "plateau"); strings.Join(got, "") != "00011" {
			t.Fatalf("plateau column %v, want 0 0 0 1 1", got)
		}
		if got := column(t, rows, "stop_reason"); strings.Join(got, ",") != ",,,,plateau" {
			t.Fatalf("stop_reason column %q", got)
		}
		// Probe signals exist from iteration 1 (π_old = the initial policy).
		for i, v := range column(t, rows, "probe_kl") {
			if kl := num(t, v); !(kl >= 0) {
				t.Fatalf("iteration %d: probe_kl %q", i+1, v)
			}
		}
		// The best: the first maximum of eval_mean_return; best = 1 wherever the mean beat
		// every earlier one.
		evals, flags := column(t, rows, "eval_mean_return"), column(t, rows, "best")
		bestIt, bestMean := 0, 0.0
		for i, v := range evals {
			m := num(t, v)
			if m != m {
				t.Fatalf("iteration %d has no validation", i+1)
			}
			isNew := bestIt == 0 || m > bestMean
			if isNew {
				bestIt, bestMean = i+1, m
			}
			if (flags[i] == "1") != isNew {
				t.Fatalf("iteration %d: best flag %s, eval mean %v, best so far %v", i+1, flags[i], m, bestMean)
			}
		}
		s := readSummary(t, dir)
		if s.Best.Iteration != bestIt || s.Best.MeanReturn != bestMean || s.SelectedIteration != bestIt {
			t.Fatalf("summary best %+v selected %d, CSV says iteration %d mean %v", s.Best, s.SelectedIteration, bestIt, bestMean)
		}
		best, err := ReadCheckpoint(filepath.Join(dir, BestFile))
		if err != nil || best.Iteration != bestIt {
			t.Fatalf("best.json: %v, iteration %d, want %d", err, best.Iteration, bestIt)
		}
		bb, _ := os.ReadFile(filepath.Join(dir, BestFile))
		cb, _ := os.ReadFile(filepath.Join(dir, CheckpointFile))
		if !bytes.Equal(bb, cb) {
			t.Fatal("select: best, but checkpoint.json is not best.json")
		}
		latest, err := ReadCheckpoint(filepath.Join(dir, LatestFile))
		if err != nil || latest.Iteration != 5 {
			t.Fatalf("latest.json: %v, iteration %d", err, latest.Iteration)
		}
		t.Logf("%d workers: validation means %v, best iteration %d", workers, evals, bestIt)
		if bestIt != 5 && slices.Equal(latest.Params, best.Params) {
			t.Fatal("the best policy of an earlier iteration has the final parameters")
		}
		b, _ := os.ReadFile(filepath.Join(dir, ConvergenceFile))
		convs, ckpts = append(convs, string(b)), append(ckpts, cb)
	}
	if convs[0] != convs[1] || !bytes.Equal(ckpts[0], ckpts[1]) {
		t.Fatal("convergence.csv or the checkpoint differ between 1 and 2 environment workers")
	}

	// A stopped run does not resume past its stop.
	cfg := plateauCartPole()
	dir := t.TempDir()
	if _, err := TrainValidation(context.Background(), cfg, "", dir, ValidationOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	cfg.Resume = true
	res, err := TrainValidation(context.Background(), cfg, "", dir, ValidationOptions{ConfigHash: plateauCartPole().Hash()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StopReason != StopPlateau || res.Iterations != 5 || len(readRows(t, filepath.Join(dir, ConvergenceFile))) != 6 {
		t.Fatalf("resumed a stopped run: stop %q, %d iterations", res.StopReason, res.Iterations)
	}
}

// scriptedEnv is CartPole whose every step ends the episode with a fixed reward.
type scriptedEnv struct {
	framework.Env
	reward float64
}

func (e scriptedEnv) Step(ctx context.Context, a framework.Action) (framework.StepResult, error) {
	r, err := e.Env.Step(ctx, a)
	r.Reward, r.Terminated = e.reward, true
	return r, err
}

// TestBestSelection scripts the validation returns of five evaluations — means 1, 5, 3,
// 5, 2 — so the best is iteration 2 (the later tie at 4 does not replace it): best.json
// is iteration 2 either way, and checkpoint.json is iteration 2 with select: best and 5
// with select: final.
func TestBestSelection(t *testing.T) {
	for _, sel := range []string{SelectBest, SelectFinal} {
		t.Run(sel, func(t *testing.T) {
			script := []float64{1, 5, 3, 5, 2}
			const K = 2
			var calls atomic.Int64
			valEnv := func(int, uint64) (framework.Env, error) {
				j := int(calls.Add(1)-1) / K // evaluation index
				return scriptedEnv{Env: envs.NewCartPole(), reward: script[j]}, nil
			}
			cfg := smallCartPole()
			cfg.TotalTimesteps = 4 * 32 * 5
			cfg.Validation.Every, cfg.Validation.Episodes, cfg.Validation.Select = 1, K, sel
			dir := t.TempDir()
			res, err := Train(context.Background(), cfg, TrainOptions{ValidationEnv: valEnv}, envFactory(envs.CartPoleV1), dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			s := res.Summary
			want := 2
			if sel == SelectFinal {
				want = 5
			}
			if s.Best == nil || s.Best.Iteration != 2 || s.Best.MeanReturn != 5 || s.Best.StdReturn != 0 ||
				s.SelectedIteration != want || res.Checkpoint.Iteration != want || s.StopReason != StopBudget {
				t.Fatalf("summary: best %+v, selected iteration %d, checkpoint iteration %d, stop %q", s.Best, s.SelectedIteration, res.Checkpoint.Iteration, s.StopReason)
			}
			best, err := ReadCheckpoint(filepath.Join(dir, BestFile))
			if err != nil || best.Iteration != 2 {
				t.Fatalf("best.json: %v (iteration %d)", err, best.Iteration)
			}
			c, err := ReadCheckpoint(filepath.Join(dir, CheckpointFile))
			if err != nil || c.Iteration != want {
				t.Fatalf("checkpoint.json: %v (iteration %d, want %d)", err, c.Iteration, want)
			}
			rows := readRows(t, filepath.Join(dir, ConvergenceFile))
			if got := strings.Join(column(t, rows, "best"), ""); got != "11000" {
				t.Fatalf("best column %s, want 11000", got)
			}
			if got := strings.Join(column(t, rows, "eval_mean_return"), ","); got != "1,5,3,5,2" {
				t.Fatalf("eval_mean_return column %s", got)
			}
		})
	}
}

func TestValidationNeedsEnvironments(t *testing.T) {
	cfg := smallCartPole()
	cfg.Validation.Every = 1
	_, err := Train(context.Background(), cfg, TrainOptions{}, envFactory(envs.CartPoleV1), t.TempDir(), nil)
	if err == nil || !strings.Contains(err.Error(), "validation.every") {
		t.Fatalf("validation without environments: %v", err)
	}
}

// TestHeldOutSeeds: periodic-validation seeds are apart from the training episodes'
// seeds and the final evaluation's for the first indices.
func TestHeldOutSeeds(t *testing.T) {
	const seed, n = 1, 5000
	used := map[uint64]string{}
	for e := 0; e < 8; e++ {
		for k := uint64(0); k < n; k++ {
			used[episodeSeed(seed, e, k)] = "training"
		}
	}
	for k := uint64(0); k < n; k++ {
		used[splitmix64(seed^rngStreamEval)+k] = "evaluation"
	}
	for k := 0; k < n; k++ {
		if what, ok := used[HeldOutSeed(seed, k)]; ok {
			t.Fatalf("validation seed %d is also a %s seed", k, what)
		}
	}
}

// TestMonitoringKeepsHash: with the convergence and validation keys at their defaults a
// config hashes as before they existed (committed checkpoints carry such hashes); keys
// that only monitor keep the hash, stop criteria and best-checkpoint selection change it.
func TestMonitoringKeepsHash(t *testing.T) {
	// DefaultConfig().Hash() as computed by the code before the convergence section
	// existed (git show be8ab9f:policies/ppo/config.go).
	const before = "0916849cc76d481b38c8ec5390ab00616c59c672169d9234e9937b0287db5697"
	base := DefaultConfig()
	if h := base.Hash(); h != before {
		t.Fatalf("default hash %s, want %s", h, before)
	}
	monitoring := []func(*Config){
		func(c *Config) { c.Convergence.Window, c.Convergence.Probes, c.Convergence.MinIterations = 5, 64, 7 },
		func(c *Config) { c.Convergence.Stability.MaxKL, c.Convergence.Stability.Patience = 0.5, 3 },
		func(c *Config) {
			c.Validation.Every, c.Validation.Episodes, c.Validation.Profiles = 5, 9, []string{"low"}
		},
		func(c *Config) { c.Validation.Select = SelectBest }, // without every: nothing to select
	}
	for i, f := range monitoring {
		c := DefaultConfig()
		f(&c)
		if c.Hash() != before {
			t.Errorf("monitoring change %d changed the hash", i)
		}
	}
	changing := []func(*Config){
		func(c *Config) { c.Convergence.StopOnPlateau = true },
		func(c *Config) { c.Convergence.StopOnStable = true },
		func(c *Config) { c.Validation.Every, c.Validation.Select = 5, SelectBest },
	}
	seen := map[string]bool{before: true}
	for i, f := range changing {
		c := DefaultConfig()
		f(&c)
		if h := c.Hash(); seen[h] {
			t.Errorf("result-changing change %d kept a hash seen before", i)
		} else {
			seen[h] = true
		}
	}
	// Once a criterion is on, its parameters matter; the other criterion's do not.
	c := DefaultConfig()
	c.Convergence.StopOnPlateau = true
	h := c.Hash()
	c.Convergence.Stability.MaxKL = 0.5
	if c.Hash() != h {
		t.Error("stability threshold changed the hash with only stop_on_plateau")
	}
	c.Convergence.PlateauPatience = 3
	if c.Hash() == h {
		t.Error("plateau_patience did not change the hash with stop_on_plateau")
	}

	tests := []struct {
		change func(*Config)
		want   []string
	}{
		{func(*Config) {}, []string{"convergence", "validation"}},
		{func(c *Config) { c.Convergence.StopOnPlateau = true }, []string{"convergence.probes", "convergence.stability", "convergence.stop_on_stable", "validation"}},
		{func(c *Config) {
			c.Convergence.StopOnStable = true
			c.Validation.Every, c.Validation.Select = 3, SelectBest
		},
			[]string{"convergence.window", "convergence.min_improvement", "convergence.improvement_floor", "convergence.plateau_patience", "convergence.stop_on_plateau"}},
	}
	for i, tc := range tests {
		c := DefaultConfig()
		tc.change(&c)
		if got := c.MonitoringKeys(); !slices.Equal(got, tc.want) {
			t.Errorf("case %d: MonitoringKeys %v, want %v", i, got, tc.want)
		}
	}
}

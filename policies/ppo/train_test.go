package ppo

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/policies/ppo/envs"
)

func envFactory(name string) func(int, uint64) (framework.Env, error) {
	return func(int, uint64) (framework.Env, error) { return envs.New(name) }
}

func readRows(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func num(t *testing.T, s string) float64 {
	t.Helper()
	if s == "" {
		return math.NaN()
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// smallCartPole is CleanRL's configuration shrunk to a few short iterations.
func smallCartPole() Config {
	c := DefaultConfig()
	c.NumSteps, c.TotalTimesteps, c.Env = 32, 4*32*3, envs.CartPoleV1
	return c
}

// smallPendulum exercises the continuous path: Gaussian head, observation and reward
// normalisation, bootstrapped truncation, early stopping on the KL.
func smallPendulum() Config {
	c := DefaultConfig()
	c.NumEnvs, c.NumSteps, c.NumMinibatches, c.UpdateEpochs = 3, 80, 4, 3
	c.TotalTimesteps = 3 * 80 * 4 // 240 steps per env: episodes of 200 end within
	c.NormObs, c.NormReward, c.BootstrapTruncation, c.TargetKL = true, true, true, 0.001
	c.Env = envs.PendulumV1
	return c
}

// stripColumn drops the named column (wall-clock dependent, e.g. sps).
func stripColumn(rows [][]string, name string) [][]string {
	col := -1
	for i, h := range rows[0] {
		if h == name {
			col = i
		}
	}
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = append(append([]string(nil), r[:col]...), r[col+1:]...)
	}
	return out
}

// TestTrainDeterministic: the same seed gives bit-identical checkpoints and logs whether
// environments are stepped in the training goroutine or by several workers.
func TestTrainDeterministic(t *testing.T) {
	for _, cfg := range []Config{smallCartPole(), smallPendulum()} {
		t.Run(cfg.Env, func(t *testing.T) {
			var ckpts [][]byte
			var logs []string
			for _, workers := range []int{1, 3} {
				cfg.EnvWorkers = workers
				dir := t.TempDir()
				if _, err := Train(context.Background(), cfg, TrainOptions{}, envFactory(cfg.Env), dir, nil); err != nil {
					t.Fatal(err)
				}
				b, err := os.ReadFile(filepath.Join(dir, CheckpointFile))
				if err != nil {
					t.Fatal(err)
				}
				ckpts = append(ckpts, b)
				ep, _ := os.ReadFile(filepath.Join(dir, EpisodesFile))
				it, _ := json.Marshal(stripColumn(readRows(t, filepath.Join(dir, IterationsFile)), "sps"))
				logs = append(logs, string(ep)+string(it))
			}
			if !bytes.Equal(ckpts[0], ckpts[1]) || logs[0] != logs[1] {
				t.Fatal("results differ between 1 and 3 environment workers")
			}
			cfg.Seed++
			cfg.EnvWorkers = 1
			dir := t.TempDir()
			if _, err := Train(context.Background(), cfg, TrainOptions{}, envFactory(cfg.Env), dir, nil); err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, CheckpointFile)); bytes.Equal(b, ckpts[0]) {
				t.Fatal("a different seed gave the same checkpoint")
			}
		})
	}
}

// TestTrainOutputs checks the files of a run against the configuration: one iterations.csv
// row per iteration with CleanRL's learning-rate schedule and global step, episodes.csv
// rows that account for the steps, the summary, and a loadable checkpoint.
func TestTrainOutputs(t *testing.T) {
	cfg := smallCartPole()
	cfg.NumSteps, cfg.TotalTimesteps = 64, 4*64*5 // 5 iterations of 256 steps
	dir := t.TempDir()
	var prog []framework.TrainProgress
	res, err := Train(context.Background(), cfg, TrainOptions{}, envFactory(cfg.Env), dir, func(p framework.TrainProgress) { prog = append(prog, p) })
	if err != nil {
		t.Fatal(err)
	}
	its := readRows(t, filepath.Join(dir, IterationsFile))
	if strings.Join(its[0], ",") != "iteration,global_step,lr,pg_loss,v_loss,entropy,old_approx_kl,approx_kl,clipfrac,explained_variance,sps" {
		t.Fatalf("iterations header %v", its[0])
	}
	if len(its) != 6 || len(prog) != 5 {
		t.Fatalf("%d iteration rows, %d progress reports; want 5 each", len(its)-1, len(prog))
	}
	for i, r := range its[1:] {
		it := float64(i + 1)
		if num(t, r[0]) != it || num(t, r[1]) != 256*it {
			t.Fatalf("row %d: iteration %s global_step %s", i+1, r[0], r[1])
		}
		if lr := num(t, r[2]); !near(lr, 2.5e-4*(1-(it-1)/5), 1e-18) {
			t.Fatalf("iteration %v lr %v", it, lr)
		}
		// A fresh near-uniform policy over two actions has entropy ≈ ln 2.
		if e := num(t, r[5]); e <= 0 || e > math.Ln2+1e-9 {
			t.Fatalf("entropy %v outside (0, ln 2]", e)
		}
		if kl := num(t, r[7]); kl < 0 {
			t.Fatalf("approx_kl %v < 0", kl)
		}
		if cf := num(t, r[8]); cf < 0 || cf > 1 {
			t.Fatalf("clipfrac %v", cf)
		}
	}
	eps := readRows(t, filepath.Join(dir, EpisodesFile))
	if strings.Join(eps[0], ",") != "global_step,env_index,raw_return,length" {
		t.Fatalf("episodes header %v", eps[0])
	}
	steps, sum := 0.0, 0.0
	var rets []float64
	for _, r := range eps[1:] {
		// CartPole: the raw return equals the length (reward 1 per step).
		if num(t, r[2]) != num(t, r[3]) || num(t, r[1]) > 3 || num(t, r[0]) > 1280 {
			t.Fatalf("episode row %v", r)
		}
		steps += num(t, r[3])
		rets = append(rets, num(t, r[2]))
	}
	if steps > 1280 || steps < 1280-4*500 {
		t.Fatalf("episodes cover %v steps of 1280", steps)
	}
	from := max(0, len(rets)-100)
	for _, r := range rets[from:] {
		sum += r
	}
	s := res.Summary
	if s.Iterations != 5 || s.GlobalStep != 1280 || s.Episodes != len(rets) || s.MeanReturn == nil ||
		!near(*s.MeanReturn, sum/float64(len(rets)-from), 1e-9) || s.ReturnEpisodes != len(rets)-from || s.ConfigHash != cfg.Hash() {
		t.Fatalf("summary %+v", s)
	}
	var onDisk Summary
	b, _ := os.ReadFile(filepath.Join(dir, SummaryFile))
	if err := json.Unmarshal(b, &onDisk); err != nil || onDisk.GlobalStep != 1280 {
		t.Fatalf("summary.json: %v %s", err, b)
	}
	c, err := ReadCheckpoint(filepath.Join(dir, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if c.Train != nil || c.Iteration != 5 || c.GlobalStep != 1280 || c.ConfigHash != cfg.Hash() {
		t.Fatalf("final checkpoint iteration %d step %d train state %v", c.Iteration, c.GlobalStep, c.Train != nil)
	}
	latest, err := ReadCheckpoint(filepath.Join(dir, LatestFile))
	if err != nil || latest.Train == nil {
		t.Fatalf("latest checkpoint: %v", err)
	}
}

// TestTrainFallbackStepsMasked: when the runner replaced every action (Fallback), nothing
// is learned: the parameters stay at their initialisation and the losses are undefined.
func TestTrainFallbackStepsMasked(t *testing.T) {
	cfg := DefaultConfig()
	cfg.NumEnvs, cfg.NumSteps, cfg.TotalTimesteps = 2, 16, 64
	dir := t.TempDir()
	newEnv := func(int, uint64) (framework.Env, error) { return &countEnv{length: 5, fallback: true}, nil }
	res, err := Train(context.Background(), cfg, TrainOptions{}, newEnv, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	nt, _ := newNet(2, cfg.HiddenSizes, actTanh, framework.ActionSpace{Kind: framework.Discrete, N: 2})
	init := initParams(nt, rand.New(rand.NewPCG(cfg.Seed, rngStreamInit)))
	for i, v := range res.Checkpoint.Params {
		if v != init[i] {
			t.Fatalf("parameter %d changed although every step was a fallback", i)
		}
	}
	for _, r := range readRows(t, filepath.Join(dir, IterationsFile))[1:] {
		if r[3] != "" || r[8] != "" {
			t.Fatalf("losses logged for an iteration without updates: %v", r)
		}
	}
	// Without the fallback flag the same run learns something.
	newEnv = func(int, uint64) (framework.Env, error) { return &countEnv{length: 5}, nil }
	res, err = Train(context.Background(), cfg, TrainOptions{}, newEnv, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	changed := false
	for i, v := range res.Checkpoint.Params {
		changed = changed || v != init[i]
	}
	if !changed {
		t.Fatal("parameters did not change without fallbacks")
	}
}

// TestTrainResume interrupts a run after iteration 2 and resumes it: the resumed run
// finishes the budget, keeps one log row per iteration, continues the learning-rate
// schedule, and is itself deterministic.
func TestTrainResume(t *testing.T) {
	cfg := smallCartPole()
	cfg.TotalTimesteps = 4 * 32 * 4
	cfg.CheckpointEvery = 1
	run := func(dir string) []byte {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_, err := Train(ctx, cfg, TrainOptions{}, envFactory(cfg.Env), dir, func(p framework.TrainProgress) {
			if p.Iteration == 2 {
				cancel()
			}
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted run: %v", err)
		}
		c2, err := ReadCheckpoint(filepath.Join(dir, LatestFile))
		if err != nil || c2.Iteration != 2 || c2.Train.Monitor == nil || c2.Train.Monitor.Probes == nil {
			t.Fatalf("checkpoint of iteration 2: %v", err)
		}
		probes2 := c2.Train.Monitor.Probes
		// An extra row after the checkpoint must disappear on resume.
		f, _ := os.OpenFile(filepath.Join(dir, IterationsFile), os.O_APPEND|os.O_WRONLY, 0)
		f.WriteString("3,999,1,1,1,1,1,1,1,1,1\n")
		f.Close()
		rc := cfg
		rc.Resume = true
		res, err := Train(context.Background(), rc, TrainOptions{ConfigHash: cfg.Hash()}, envFactory(cfg.Env), dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Summary.Resumed || res.Summary.Iterations != 4 || res.Summary.GlobalStep != 512 {
			t.Fatalf("resumed summary %+v", res.Summary)
		}
		rows := readRows(t, filepath.Join(dir, IterationsFile))
		if len(rows) != 5 {
			t.Fatalf("%d iteration rows after resume, want 4", len(rows)-1)
		}
		for i, r := range rows[1:] {
			if num(t, r[0]) != float64(i+1) || !near(num(t, r[2]), 2.5e-4*(1-float64(i)/4), 1e-18) {
				t.Fatalf("row %v", r)
			}
		}
		if conv := readRows(t, filepath.Join(dir, ConvergenceFile)); len(conv) != 5 || conv[4][0] != "4" || conv[4][len(conv[4])-1] != StopBudget {
			t.Fatalf("convergence.csv after resume: %v", conv)
		}
		// The resumed run measures stability on the probes of the interrupted one.
		latest, err := ReadCheckpoint(filepath.Join(dir, LatestFile))
		if err != nil || latest.Train.Monitor == nil || latest.Train.Monitor.Probes == nil {
			t.Fatalf("latest.json has no probes: %v", err)
		}
		if p := latest.Train.Monitor.Probes; len(p.Values) != min(cfg.Convergence.Probes, cfg.BatchSize()) || !slices.EqualFunc(p.Values, probes2.Values, slices.Equal) {
			t.Fatalf("probes after resume: %d rows, equal to the checkpoint's: %v", len(p.Values), slices.EqualFunc(p.Values, probes2.Values, slices.Equal))
		}
		b, _ := os.ReadFile(filepath.Join(dir, CheckpointFile))
		return b
	}
	a, b := run(t.TempDir()), run(t.TempDir())
	if !bytes.Equal(a, b) {
		t.Fatal("resumed runs differ")
	}
	// A different configuration refuses to resume.
	dir := t.TempDir()
	if _, err := Train(context.Background(), cfg, TrainOptions{}, envFactory(cfg.Env), dir, nil); err != nil {
		t.Fatal(err)
	}
	other := cfg
	other.Resume, other.EntCoef = true, 0.02
	if _, err := Train(context.Background(), other, TrainOptions{}, envFactory(cfg.Env), dir, nil); err == nil || !strings.Contains(err.Error(), "config hash") {
		t.Fatalf("resume with another config: %v", err)
	}
}

func TestTrainSpecsMismatch(t *testing.T) {
	pend := envs.NewPendulum().Specs()
	_, err := Train(context.Background(), smallCartPole(), TrainOptions{Specs: &pend}, envFactory(envs.CartPoleV1), t.TempDir(), nil)
	if !errors.Is(err, ErrSpecsMismatch) {
		t.Fatalf("error %v, want ErrSpecsMismatch", err)
	}
}

// TestTrainCartPoleLearns trains CartPole-v1 with CleanRL's defaults for 150,000 steps
// (a third of the full budget). A random policy averages about 22; CleanRL's learning
// curve is well above 100 by then.
func TestTrainCartPoleLearns(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for 150k steps")
	}
	cfg := DefaultConfig()
	cfg.TotalTimesteps, cfg.Env, cfg.EvalEpisodes = 150000, envs.CartPoleV1, 10
	s, err := TrainValidation(context.Background(), cfg, "", t.TempDir(), ValidationOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("mean return of the last %d episodes %.1f, deterministic evaluation %.1f, %.0f steps/s",
		s.ReturnEpisodes, *s.MeanReturn, *s.EvalMeanReturn, s.StepsPerSecond)
	if *s.MeanReturn < 150 || *s.EvalMeanReturn < 150 {
		t.Fatalf("not learning: mean return %.1f, evaluation %.1f", *s.MeanReturn, *s.EvalMeanReturn)
	}
}

// TestTargetKLStopsEpochs: with a tiny target the update stops after the first epoch
// (CleanRL checks after each epoch), otherwise it runs every epoch.
func TestTargetKLStopsEpochs(t *testing.T) {
	for _, tc := range []struct {
		target  float64
		updates int
	}{{0, 4 * 4}, {1e-12, 4}} {
		cfg := smallCartPole()
		cfg.TargetKL = tc.target
		tr, err := newTrainer(context.Background(), cfg, TrainOptions{}, envFactory(cfg.Env), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := tr.iterate(context.Background()); err != nil {
			t.Fatal(err)
		}
		tr.closeAll()
		if len(tr.clipFracs) != tc.updates {
			t.Fatalf("target_kl %v: %d minibatch updates, want %d", tc.target, len(tr.clipFracs), tc.updates)
		}
	}
}

package ppo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/policies/ppo/envs"
)

// BenchmarkTrainCartPole measures PPO training throughput on CartPole-v1 with CleanRL's
// defaults (4 envs × 128 steps, 4 minibatches, 4 epochs, 64-64 tanh), single-threaded
// (environments stepped in the training goroutine; run with -cpu 1). One op is one PPO
// iteration of 512 environment steps; steps/s is the figure to compare with CleanRL's
// ≈ 800 on a CPU. steps/cpu-s divides by the CPU time the process used instead of wall
// time, which is the figure that counts on a machine shared with other work.
func BenchmarkTrainCartPole(b *testing.B) {
	cfg := DefaultConfig()
	cfg.EnvWorkers = 1
	cfg.TotalTimesteps = 1 << 40 // the schedule never ends within the benchmark
	newEnv := func(int, uint64) (framework.Env, error) { return envs.NewCartPole(), nil }
	tr, err := newTrainer(context.Background(), cfg, TrainOptions{}, newEnv, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer tr.closeAll()
	ctx := context.Background()
	start, cpu0 := time.Now(), processCPUTime()
	for b.Loop() {
		if _, _, err := tr.iterate(ctx); err != nil {
			b.Fatal(err)
		}
	}
	steps := float64(b.N * cfg.BatchSize())
	b.ReportMetric(steps/time.Since(start).Seconds(), "steps/s")
	if cpu := processCPUTime() - cpu0; cpu > 0 {
		b.ReportMetric(steps/cpu.Seconds(), "steps/cpu-s")
	}
}

// BenchmarkAct measures one deterministic action of a 64×64 tanh MLP on CartPole's four
// features (the policy's Act: encode, forward, argmax). cpu-ns/op divides the process's CPU
// time instead of wall time.
func BenchmarkAct(b *testing.B) {
	p := trainedTestPolicy(b, DefaultConfig(), envs.NewCartPole())
	obs := framework.Observation{Values: []float64{0.01, -0.2, 0.03, 0.1}, Valid: []bool{true, true, true, true}}
	ctx := context.Background()
	cpu0 := processCPUTime()
	for b.Loop() {
		if _, err := p.Act(ctx, obs); err != nil {
			b.Fatal(err)
		}
	}
	if cpu := processCPUTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkGemmNT compares the kernel the network uses (gemmNT: floats.Dot for long
// contractions), the plain Go loop and gonum's blas64.Gemm on the shapes
// training and acting use (C = A·Bᵀ, m×k by n×k): the minibatch forward pass (128 rows),
// the weight gradient (k = 128 rows of the minibatch), the rollout forward pass (4 envs)
// and acting on one observation.
func BenchmarkGemmNT(b *testing.B) {
	for _, s := range []struct {
		name    string
		m, n, k int
	}{
		{"forward_128x64x64", 128, 64, 64},
		{"weightgrad_64x64x128", 64, 64, 128},
		{"rollout_4x64x64", 4, 64, 64},
		{"act_1x64x64", 1, 64, 64},
	} {
		rng := rand.New(rand.NewPCG(1, 2))
		a, bb, c := make([]float64, s.m*s.k), make([]float64, s.n*s.k), make([]float64, s.m*s.n)
		for i := range a {
			a[i] = rng.NormFloat64()
		}
		for i := range bb {
			bb[i] = rng.NormFloat64()
		}
		b.Run(fmt.Sprintf("%s/gemmNT", s.name), func(b *testing.B) {
			for b.Loop() {
				gemmNT(s.m, s.n, s.k, a, bb, c, nil)
			}
		})
		b.Run(fmt.Sprintf("%s/plain", s.name), func(b *testing.B) {
			for b.Loop() {
				gemmNTPlain(s.m, s.n, s.k, a, bb, c, nil)
			}
		})
		b.Run(fmt.Sprintf("%s/gonum", s.name), func(b *testing.B) {
			A := blas64.General{Rows: s.m, Cols: s.k, Stride: s.k, Data: a}
			B := blas64.General{Rows: s.n, Cols: s.k, Stride: s.k, Data: bb}
			C := blas64.General{Rows: s.m, Cols: s.n, Stride: s.n, Data: c}
			for b.Loop() {
				blas64.Gemm(blas.NoTrans, blas.Trans, 1, A, B, 0, C)
			}
		})
	}
}

// BenchmarkConvergenceSignals measures what convergence monitoring adds to one PPO
// iteration on CartPole with CleanRL's defaults: the stability signals on the default 256
// probes (encode, two actor passes' worth of outputs, exact KL, entropy, greedy
// agreement) and the moving-average plateau test. Compare with BenchmarkTrainCartPole's
// time per iteration.
func BenchmarkConvergenceSignals(b *testing.B) {
	cfg := DefaultConfig()
	cfg.EnvWorkers = 1
	newEnv := func(int, uint64) (framework.Env, error) { return envs.NewCartPole(), nil }
	tr, err := newTrainer(context.Background(), cfg, TrainOptions{}, newEnv, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer tr.closeAll()
	if _, _, err := tr.iterate(context.Background()); err != nil {
		b.Fatal(err)
	}
	if tr.mon.probes() != cfg.Convergence.Probes {
		b.Fatalf("%d probes, want %d", tr.mon.probes(), cfg.Convergence.Probes)
	}
	cc := cfg.Convergence
	cpu0 := processCPUTime()
	for b.Loop() {
		tr.mon.stability(tr.params, tr.mergedObsNorm())
		tr.mon.state.Plateau.push(tr.iterRetSum, tr.iterRetN, cc.Window, cc.MinImprovement, cc.ImprovementFloor)
	}
	if cpu := processCPUTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

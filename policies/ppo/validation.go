package ppo

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/policies/ppo/envs"
)

// ValidationOptions adjust TrainValidation.
type ValidationOptions struct {
	// ConfigHash is recorded in checkpoints and the summary; empty uses Config.Hash().
	ConfigHash string
	// CheckpointPath, when set, also receives the final checkpoint.
	CheckpointPath string
	// Logger receives per-iteration diagnostics at debug level; nil discards them.
	Logger *slog.Logger
}

// TrainValidation trains PPO on a validation environment (envName, or cfg.Env when
// envName is empty: cartpole-v1, pendulum-v1) — what `scalelab train` runs for a config
// whose train section names `env:` — writes the files of Train into outDir, then
// evaluates the selected policy deterministically for cfg.EvalEpisodes episodes on
// held-out seeds and adds the result to the summary (summary.json is rewritten). Periodic
// validation (validation.every) runs on the same environment with reset seeds from a
// third held-out stream (HeldOutSeed).
func TrainValidation(ctx context.Context, cfg Config, envName, outDir string, opts ValidationOptions, progress func(framework.TrainProgress)) (Summary, error) {
	if envName == "" {
		envName = cfg.Env
	}
	if _, err := envs.New(envName); err != nil {
		return Summary{}, fmt.Errorf("train: %w", err)
	}
	cfg.Env = envName
	newEnv := func(int, uint64) (framework.Env, error) { return envs.New(envName) }
	valEnv := func(int, uint64) (framework.Env, error) {
		e, err := envs.New(envName)
		if err != nil {
			return nil, err
		}
		return heldOutEnv{Env: e, seed: cfg.Seed}, nil
	}
	res, err := Train(ctx, cfg, TrainOptions{ConfigHash: opts.ConfigHash, CheckpointPath: opts.CheckpointPath, Logger: opts.Logger, ValidationEnv: valEnv}, newEnv, outDir, progress)
	if err != nil {
		return Summary{}, err
	}
	s := res.Summary
	if cfg.EvalEpisodes > 0 {
		env, err := envs.New(envName)
		if err != nil {
			return s, err
		}
		defer env.Close()
		rets, err := Evaluate(ctx, res.Checkpoint, env, cfg.EvalEpisodes, splitmix64(cfg.Seed^rngStreamEval))
		if err != nil {
			return s, fmt.Errorf("evaluate: %w", err)
		}
		m, sd := meanStd(rets)
		s.EvalEpisodes, s.EvalMeanReturn, s.EvalStdReturn = len(rets), &m, &sd
		if err := framework.WriteJSONAtomic(filepath.Join(outDir, SummaryFile), s); err != nil {
			return s, err
		}
	}
	return s, nil
}

// HeldOutSeed is the reset seed of periodic-validation episode k of a validation-
// environment training with the given training seed: a SplitMix64 stream keyed by the
// seed and a domain constant of its own, apart from the training episodes' seeds (seed + e,
// then the stream of episodeSeed) and the final evaluation's (splitmix64(seed ^
// "evaluate") + k); a test checks the first indices are disjoint.
func HeldOutSeed(seed uint64, k int) uint64 {
	return splitmix64(splitmix64(seed^rngStreamVal) + uint64(k))
}

// heldOutEnv resets its environment with HeldOutSeed of the requested index.
type heldOutEnv struct {
	framework.Env
	seed uint64
}

// Reset starts validation episode k under HeldOutSeed(training seed, k).
func (e heldOutEnv) Reset(ctx context.Context, k uint64) (framework.Observation, error) {
	return e.Env.Reset(ctx, HeldOutSeed(e.seed, int(k)))
}

// Evaluate runs the checkpoint's deterministic policy for the given number of episodes on
// env (episode k reset with seed + k) and returns each episode's undiscounted return. An
// episode ends when the environment terminates or truncates it.
func Evaluate(ctx context.Context, c *Checkpoint, env framework.Env, episodes int, seed uint64) ([]float64, error) {
	m, err := c.model()
	if err != nil {
		return nil, err
	}
	if err := specsMatch(c.Specs, env.Specs()); err != nil {
		return nil, err
	}
	out := make([]float64, 0, episodes)
	for k := 0; k < episodes; k++ {
		obs, err := env.Reset(ctx, seed+uint64(k))
		if err != nil {
			return nil, fmt.Errorf("episode %d reset: %w", k, err)
		}
		ret := 0.0
		for {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			a, err := m.act(obs)
			if err != nil {
				return nil, fmt.Errorf("episode %d: %w", k, err)
			}
			res, err := env.Step(ctx, a)
			if err != nil {
				return nil, fmt.Errorf("episode %d step: %w", k, err)
			}
			ret += res.Reward
			if res.Terminated || res.Truncated {
				break
			}
			obs = res.Obs
		}
		out = append(out, ret)
	}
	return out, nil
}

// meanStd returns the mean and the population standard deviation.
func meanStd(xs []float64) (float64, float64) {
	m := mean(xs)
	ss := 0.0
	for _, x := range xs {
		ss += (x - m) * (x - m)
	}
	return m, math.Sqrt(ss / float64(len(xs)))
}

package ppo

import (
	"context"
	"fmt"
	"sync"

	"github.com/scalelab/scalelab/framework"
)

// vecEnv steps N environments together with Gymnasium 0.29's same-step autoreset: when a
// step ends an episode (terminated or truncated) the environment is reset within that
// step, the result's Obs is the first observation of the new episode and FinalObs the last
// observation of the ended one. An environment that resets itself (returns FinalObs) is
// taken as is. Environments are stepped by up to `workers` goroutines; each writes only
// its own slots, so results do not depend on scheduling.
type vecEnv struct {
	envs     []framework.Env
	workers  int
	seed     uint64
	episodes []uint64 // per env: episodes started (the reset-seed counter)
	results  []framework.StepResult
	errs     []error
}

func newVecEnv(envs []framework.Env, workers int, seed uint64) *vecEnv {
	workers = max(1, min(workers, len(envs)))
	return &vecEnv{
		envs: envs, workers: workers, seed: seed,
		episodes: make([]uint64, len(envs)),
		results:  make([]framework.StepResult, len(envs)),
		errs:     make([]error, len(envs)),
	}
}

// episodeSeed is the seed of environment e's k-th episode (k from 0): the first is
// seed + e, as CleanRL's envs.reset(seed=seed), later ones are drawn from a splitmix64
// stream keyed by (seed, e, k).
func episodeSeed(seed uint64, e int, k uint64) uint64 {
	if k == 0 {
		return seed + uint64(e)
	}
	return splitmix64(splitmix64(splitmix64(seed^0x657069736f646573)+uint64(e)) + k)
}

// splitmix64 is one step of Vigna's SplitMix64 finaliser.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// reset starts a new episode in every environment and returns the first observations.
func (v *vecEnv) reset(ctx context.Context) ([]framework.Observation, error) {
	obs := make([]framework.Observation, len(v.envs))
	v.parallel(func(e int) {
		obs[e], v.errs[e] = v.resetOne(ctx, e)
	})
	return obs, v.firstErr("reset")
}

func (v *vecEnv) resetOne(ctx context.Context, e int) (framework.Observation, error) {
	s := episodeSeed(v.seed, e, v.episodes[e])
	v.episodes[e]++
	return v.envs[e].Reset(ctx, s)
}

// step applies actions[e] to environment e; results land in v.results.
func (v *vecEnv) step(ctx context.Context, actions []framework.Action) error {
	v.parallel(func(e int) {
		res, err := v.envs[e].Step(ctx, actions[e])
		if err == nil && (res.Terminated || res.Truncated) && res.FinalObs == nil {
			final := res.Obs
			res.FinalObs = &final
			res.Obs, err = v.resetOne(ctx, e)
		}
		v.results[e], v.errs[e] = res, err
	})
	return v.firstErr("step")
}

// parallel runs f for every environment index on the worker goroutines (inline with one
// worker). Worker w handles indices w, w+workers, ….
func (v *vecEnv) parallel(f func(e int)) {
	if v.workers == 1 {
		for e := range v.envs {
			f(e)
		}
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < v.workers; w++ {
		wg.Go(func() {
			for e := w; e < len(v.envs); e += v.workers {
				f(e)
			}
		})
	}
	wg.Wait()
}

func (v *vecEnv) firstErr(what string) error {
	for e, err := range v.errs {
		if err != nil {
			return fmt.Errorf("environment %d %s: %w", e, what, err)
		}
	}
	return nil
}

func (v *vecEnv) close() error {
	var first error
	for e, env := range v.envs {
		if err := env.Close(); err != nil && first == nil {
			first = fmt.Errorf("environment %d close: %w", e, err)
		}
	}
	return first
}

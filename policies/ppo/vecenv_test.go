package ppo

import (
	"context"
	"testing"

	"github.com/scalelab/scalelab/framework"
)

// countEnv is a scripted environment: episodes last `length` steps and end by truncation
// (or termination when terminate is set); the observation is (episode seed, step).
type countEnv struct {
	length    int
	terminate bool
	fallback  bool
	selfReset bool // resets itself and reports FinalObs, as an env may
	seed      uint64
	step      int
	resets    []uint64
	actions   []float64
}

func (c *countEnv) Specs() framework.Specs {
	return framework.Specs{
		Features: []framework.FeatureSpec{{Name: "seed"}, {Name: "step"}},
		Action:   framework.ActionSpace{Kind: framework.Discrete, N: 2},
	}
}

func (c *countEnv) Reset(_ context.Context, seed uint64) (framework.Observation, error) {
	c.seed, c.step = seed, 0
	c.resets = append(c.resets, seed)
	return c.obs(), nil
}

func (c *countEnv) obs() framework.Observation {
	return framework.Observation{Values: []float64{float64(c.seed % 1000), float64(c.step)}, Valid: []bool{true, true}}
}

func (c *countEnv) Step(ctx context.Context, a framework.Action) (framework.StepResult, error) {
	c.actions = append(c.actions, a.Values[0])
	c.step++
	res := framework.StepResult{Obs: c.obs(), Reward: float64(a.Values[0]), Fallback: c.fallback}
	if c.step == c.length {
		res.Terminated, res.Truncated = c.terminate, !c.terminate
		if c.selfReset {
			final := res.Obs
			res.FinalObs = &final
			res.Obs, _ = c.Reset(ctx, c.seed+100)
		}
	}
	return res, nil
}

func (c *countEnv) Close() error { return nil }

// TestVecEnvAutoreset checks Gymnasium 0.29's same-step autoreset: the step that ends an
// episode returns the new episode's first observation, with the ended episode's last one
// in FinalObs; the first reset uses seed + index, later resets derived seeds.
func TestVecEnvAutoreset(t *testing.T) {
	ctx := context.Background()
	a, b := &countEnv{length: 2}, &countEnv{length: 3, selfReset: true}
	v := newVecEnv([]framework.Env{a, b}, 2, 50)
	obs, err := v.reset(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if obs[0].Values[0] != 50 || obs[1].Values[0] != 51 {
		t.Fatalf("first observations %v %v, want episode seeds 50 and 51", obs[0].Values, obs[1].Values)
	}
	acts := []framework.Action{{Values: []float64{1}}, {Values: []float64{0}}}
	// Step 1: nothing ends.
	if err := v.step(ctx, acts); err != nil {
		t.Fatal(err)
	}
	if r := v.results[0]; r.Truncated || r.FinalObs != nil || r.Obs.Values[1] != 1 {
		t.Fatalf("step 1 env 0: %+v", r)
	}
	// Step 2: env 0 ends and is reset within the step.
	if err := v.step(ctx, acts); err != nil {
		t.Fatal(err)
	}
	r := v.results[0]
	if !r.Truncated || r.FinalObs == nil || r.FinalObs.Values[1] != 2 || r.FinalObs.Values[0] != 50 {
		t.Fatalf("step 2 env 0: truncated %v final %v", r.Truncated, r.FinalObs)
	}
	want := episodeSeed(50, 0, 1)
	if r.Obs.Values[1] != 0 || r.Obs.Values[0] != float64(want%1000) || len(a.resets) != 2 || a.resets[1] != want {
		t.Fatalf("step 2 env 0: next obs %v, resets %v; want the reset observation with seed %d", r.Obs.Values, a.resets, want)
	}
	// Step 3: env 1 resets itself; the wrapper must not reset it again.
	if err := v.step(ctx, acts); err != nil {
		t.Fatal(err)
	}
	r = v.results[1]
	if !r.Truncated || r.FinalObs.Values[1] != 3 || len(b.resets) != 2 || b.resets[1] != 151 || r.Obs.Values[1] != 0 {
		t.Fatalf("self-resetting env: %+v resets %v", r, b.resets)
	}
	if len(a.actions) != 3 || a.actions[2] != 1 || b.actions[2] != 0 {
		t.Fatalf("actions reached the wrong environments: %v %v", a.actions, b.actions)
	}
}

func TestEpisodeSeedsDistinct(t *testing.T) {
	seen := map[uint64]bool{}
	for e := 0; e < 8; e++ {
		for k := uint64(0); k < 200; k++ {
			s := episodeSeed(7, e, k)
			if seen[s] {
				t.Fatalf("episode seed %d repeats (env %d, episode %d)", s, e, k)
			}
			seen[s] = true
		}
	}
}

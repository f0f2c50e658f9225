package experiments

import (
	"context"
	"strings"
	"testing"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/frameworktest"
)

// TestTrainHash: the training hash ignores the keys that only concern evaluation and the
// other policies, and changes with everything a training sees.
func TestTrainHash(t *testing.T) {
	reg := fakeRegistry(nil)
	hash := func(sets ...string) string {
		h, err := loadFake(t, reg, sets...).TrainHash("three", "policies.three.fail")
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	base := hash()
	same := [][]string{
		{"experiment.warmup=2m"}, {"experiment.repetitions=9"}, {"experiment.name=other"}, {"experiment.workers=3"},
		{"policies.two.replicas=4"}, {"policies.three.fail=true"},
	}
	for _, s := range same {
		if h := hash(s...); h != base {
			t.Errorf("%v changed the training hash", s)
		}
	}
	differ := [][]string{
		{"experiment.seed=12"}, {"experiment.duration=20m"}, {"reward.terms.cost.weight=2"}, {"policies.three.replicas=4"},
		{"state.features=[replicas_desired]"},
	}
	for _, s := range differ {
		if h := hash(s...); h == base {
			t.Errorf("%v left the training hash unchanged", s)
		}
	}
}

func TestTrainPolicyNeedsATrainer(t *testing.T) {
	b := loadFake(t, fakeRegistry(nil))
	err := b.TrainPolicy(context.Background(), "two", t.TempDir(), "", nil)
	if err == nil || !strings.Contains(err.Error(), "does not implement framework.Trainer") {
		t.Fatalf("training a baseline: %v", err)
	}
	learns, trained, err := b.Learner("two")
	if err != nil || learns || trained {
		t.Errorf("Learner(two) = %v, %v, %v; want a non-learner", learns, trained, err)
	}
	if _, err := b.BuildPolicy("nope"); err == nil {
		t.Error("built an unknown policy")
	}
}

// TestTrainSeedsMapped: the environments of TrainEnvFactory run the episode seeds a trainer
// asks for through TrainSeed: never an evaluation seed.
func TestTrainSeedsMapped(t *testing.T) {
	b := loadFake(t, fakeRegistry(nil))
	env, err := b.TrainEnvFactory(EnvOptions{})(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	be := env.(trainEnv).Env.(*framework.LoopEnv).Loop.Backend.(*frameworktest.Backend)
	seed := b.Loaded.Config.Experiment.Seed
	for _, s := range []uint64{0, 1, 2} {
		if _, err := env.Reset(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		if got, want := be.Episode.Seed, TrainSeed(seed, int(s)); got != want {
			t.Errorf("trainer seed %d ran as episode seed %d, want TrainSeed(%d, %d) = %d", s, got, seed, s, want)
		}
		for rep := 0; rep < 100; rep++ {
			if be.Episode.Seed == EvalSeed(seed, rep) {
				t.Errorf("training episode under evaluation seed of repetition %d", rep)
			}
		}
	}
}

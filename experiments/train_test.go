package experiments

import (
	"context"
	"errors"
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
		{"policies.three.watch=5"}, // MonitoringKeys
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

// validatingLearner is a learner that validates: its Train runs the validation episodes
// it was given and records what they ran.
type validatingLearner struct {
	frameworktest.PolicyFunc
	profiles []string
	newVal   func(int, uint64) (framework.Env, error)
	seeds    []uint64
	loads    []string
}

func (l *validatingLearner) ValidationProfiles() []string { return l.profiles }

func (l *validatingLearner) SetValidation(newEnv func(int, uint64) (framework.Env, error)) {
	l.newVal = newEnv
}

func (l *validatingLearner) Train(ctx context.Context, _ func(int, uint64) (framework.Env, error), _ string, _ func(framework.TrainProgress)) error {
	if l.newVal == nil {
		return errors.New("no validation environments")
	}
	for round := 0; round < 2; round++ {
		for k := 0; k < 3; k++ {
			env, err := l.newVal(k, uint64(k))
			if err != nil {
				return err
			}
			if _, err := env.Reset(ctx, uint64(k)); err != nil {
				return err
			}
			be := env.(validationEnv).Env.(*framework.LoopEnv).Loop.Backend.(*frameworktest.Backend)
			l.seeds, l.loads = append(l.seeds, be.Episode.Seed), append(l.loads, be.Episode.Load.Name)
			env.Close()
		}
	}
	return nil
}

// TestTrainPolicyValidation: TrainPolicy gives a validating learner environments whose
// episode k runs profile k mod len(profiles) under ValidationSeed(experiment seed, k) —
// the same scenario at every validation — and unknown profiles fail before training.
func TestTrainPolicyValidation(t *testing.T) {
	var learner *validatingLearner
	reg := fakeRegistry(nil)
	reg.Policies["fixed"] = framework.Factory[framework.Policy]{Type: "fixed",
		Defaults: func() any { return &fixedCfg{Replicas: 1} },
		New: func(framework.BuildContext, any) (framework.Policy, error) {
			learner = &validatingLearner{PolicyFunc: frameworktest.Replicas(2), profiles: []string{"flat", "ramp"}}
			return learner, nil
		}}
	b := loadFake(t, reg, "profiles.ramp.type=ramp", "profiles.ramp.from=1", "profiles.ramp.to=20", "profiles.ramp.duration=5m")
	if err := b.TrainPolicy(context.Background(), "three", t.TempDir(), "", nil); err != nil {
		t.Fatal(err)
	}
	seed := b.Loaded.Config.Experiment.Seed
	wantLoads := []string{"flat", "ramp", "flat", "flat", "ramp", "flat"}
	for i, s := range learner.seeds {
		k := i % 3
		if want := ValidationSeed(seed, k); s != want {
			t.Errorf("validation episode %d ran seed %d, want ValidationSeed(%d, %d) = %d", k, s, seed, k, want)
		}
		if learner.loads[i] != wantLoads[i] {
			t.Errorf("validation episode %d (round %d) ran profile %q, want %q", k, i/3, learner.loads[i], wantLoads[i])
		}
	}
	if len(learner.seeds) != 6 {
		t.Fatalf("%d validation episodes, want 6", len(learner.seeds))
	}

	reg.Policies["fixed"] = framework.Factory[framework.Policy]{Type: "fixed",
		Defaults: func() any { return &fixedCfg{Replicas: 1} },
		New: func(framework.BuildContext, any) (framework.Policy, error) {
			return &validatingLearner{PolicyFunc: frameworktest.Replicas(2), profiles: []string{"nope"}}, nil
		}}
	b = loadFake(t, reg)
	if err := b.TrainPolicy(context.Background(), "three", t.TempDir(), "", nil); err == nil || !strings.Contains(err.Error(), `validation profile "nope"`) {
		t.Fatalf("unknown validation profile: %v", err)
	}
}

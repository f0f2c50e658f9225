package framework

import (
	"context"
	"time"
)

// Specs are what a policy is told at Init: the state design's features in order and the
// action design's space.
type Specs struct {
	Features []FeatureSpec `json:"features"`
	Action   ActionSpace   `json:"action"`
	// ActionDesign is the design's config name (e.g. "replica_delta").
	ActionDesign string `json:"action_design"`
	// Interval is the decision interval the policy is called at.
	Interval time.Duration `json:"interval"`
}

// Policy decides an action from an observation.
type Policy interface {
	Act(ctx context.Context, obs Observation) (Action, error)
}

// Initializer is implemented by policies that want the specs before the first Act.
type Initializer interface {
	Init(s Specs) error
}

// Resetter is implemented by policies with per-episode state.
type Resetter interface {
	Reset()
}

// Periodic is implemented by policies with their own decision period (the HPA syncs every
// 15 s, a KPA-style autoscaler ticks every 2 s); the runner calls them on that period
// instead of the configured control interval.
type Periodic interface {
	Period() time.Duration
}

// Observer is implemented by online learners that want the reward after each step.
type Observer interface {
	Observe(reward float64, done bool)
}

// ActionDesignRequirer is implemented by policies that only work with one action design
// (baselines that output absolute replicas). The runner then uses that design for them
// regardless of the experiment's action design.
type ActionDesignRequirer interface {
	RequiredActionDesign() string
}

// Builtin is implemented by baselines that carry their own scaling behaviour (the HPA with
// its behavior, KPA, threshold): the runner applies only the scenario's min/max to them,
// not the learned-policy guardrails (max step, cooldowns).
type Builtin interface {
	BuiltinBaseline()
}

// TrainProgress is reported by a Trainer while it trains.
type TrainProgress struct {
	Iteration  int
	GlobalStep int64
	MeanReturn float64
	Message    string
}

// Trainer is implemented by learners: train on environments built by newEnv for the budget
// in the trainer's own config, report progress, and write a checkpoint.
type Trainer interface {
	Train(ctx context.Context, newEnv func(index int, seed uint64) (Env, error), outDir string, progress func(TrainProgress)) error
}

// ValidationSetter is implemented by trainers that evaluate their policy periodically
// during training on held-out validation episodes and may keep the best policy (PPO's
// validation section). A caller that can build such episodes — experiments.Builder's
// TrainPolicy — calls SetValidation before Train; trainers whose configuration asks for
// validation fail in Train when no caller did.
type ValidationSetter interface {
	// ValidationProfiles names the load profiles the validation episodes should run;
	// empty leaves the choice to the caller (an experiment's own profiles).
	ValidationProfiles() []string
	// SetValidation gives the trainer the factory of its validation environments:
	// newEnv(k, seed) builds the environment of validation episode k (k from 0), which
	// the trainer resets with that seed, k. The caller maps the seed into a stream
	// disjoint from training and evaluation seeds, so episode k is the same held-out
	// scenario at every validation.
	SetValidation(newEnv func(index int, seed uint64) (Env, error))
}

package framework

import "context"

// StepResult is what Env.Step returns, gym-style.
type StepResult struct {
	Obs        Observation
	Reward     float64
	Terminated bool // the task ended (never on autoscaling episodes)
	Truncated  bool // the time limit ended the episode
	// Fallback is true when the step applied the fallback instead of the action (errors,
	// out-of-space actions): learners mask such steps out of the loss.
	Fallback bool
	// Terms are the reward's weighted terms.
	Terms []float64
	// FinalObs is the last observation of the ended episode when the Env auto-resets
	// (Gymnasium 0.29 same-step autoreset: Obs is then the reset observation).
	FinalObs *Observation
}

// Env is the gym-style environment learners train on: the autoscaling step wrapped around a
// backend, or a validation task (CartPole, Pendulum).
type Env interface {
	// Specs returns the observation features and the action space.
	Specs() Specs
	// Reset starts an episode with the given seed and returns the first observation.
	Reset(ctx context.Context, seed uint64) (Observation, error)
	// Step applies an action and advances one decision interval.
	Step(ctx context.Context, a Action) (StepResult, error)
	// Close releases the environment.
	Close() error
}

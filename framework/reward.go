package framework

import "time"

// StepInfo is what a reward term sees: the ground-truth accounting of the step's interval
// (not the lagged observation), the command applied and the previous one, and the bounds.
type StepInfo struct {
	Window       Window
	Interval     time.Duration
	SLO          time.Duration
	Applied      Applied
	PrevReplicas int // desired replicas before the step's action
	MinReplicas  int
	MaxReplicas  int
	Command      Command
}

// Reward computes weighted reward terms over one step.
type Reward interface {
	// Terms names the terms in the order Compute returns them.
	Terms() []string
	// Compute returns each term's weighted value; the step reward is their sum.
	Compute(s StepInfo) []float64
}

package actions

import (
	"fmt"

	"github.com/scalelab/scalelab/framework"
)

// ReplicaDeltaConfig configures the replica_delta design.
type ReplicaDeltaConfig struct {
	// MaxStep is the largest replica change one action asks for.
	MaxStep int `mapstructure:"max_step" doc:"largest replica change one action asks for; the space has 2·max_step+1 actions" default:"1"`
}

// DefaultReplicaDeltaConfig returns the defaults: max_step 1 (actions −1, 0, +1).
func DefaultReplicaDeltaConfig() ReplicaDeltaConfig { return ReplicaDeltaConfig{MaxStep: 1} }

// Validate reports every out-of-range key.
func (c ReplicaDeltaConfig) Validate() []error {
	if c.MaxStep < 1 {
		return []error{fmt.Errorf("max_step: must be ≥ 1, got %d", c.MaxStep)}
	}
	return nil
}

// ReplicaDelta is the replica_delta design: a Discrete space of N = 2·max_step+1 actions
// where index i asks for desired replicas + (i − max_step). The result is not clamped: the
// runner's guardrails clamp it to the workload's bounds.
type ReplicaDelta struct {
	maxStep int
}

var _ framework.ActionDesign = (*ReplicaDelta)(nil)

// NewReplicaDelta builds the design from a validated config.
func NewReplicaDelta(c ReplicaDeltaConfig) (*ReplicaDelta, error) {
	if err := framework.ValidationError("action design "+TypeReplicaDelta, c.Validate()); err != nil {
		return nil, err
	}
	return &ReplicaDelta{maxStep: c.MaxStep}, nil
}

// Name returns "replica_delta".
func (d *ReplicaDelta) Name() string { return TypeReplicaDelta }

// Space is Discrete with N = 2·max_step+1.
func (d *ReplicaDelta) Space() framework.ActionSpace {
	return framework.ActionSpace{Kind: framework.Discrete, N: 2*d.maxStep + 1, Names: []string{"replica_delta"}}
}

// Delta returns the replica change index i asks for: i − max_step.
func (d *ReplicaDelta) Delta(i int) int { return i - d.maxStep }

// Translate asks for view.Replicas.Desired + (i − max_step) replicas.
func (d *ReplicaDelta) Translate(a framework.Action, view framework.ClusterView) (framework.Command, error) {
	i, err := discreteIndex(TypeReplicaDelta, d.Space(), a)
	if err != nil {
		return framework.Command{}, err
	}
	return framework.Command{Replicas: framework.IntPtr(view.Replicas.Desired + d.Delta(i))}, nil
}

// Hold is the index of delta 0 (max_step); it always exists.
func (d *ReplicaDelta) Hold(framework.ClusterView) (framework.Action, bool) {
	return index(d.maxStep), true
}

package actions

import (
	"fmt"
	"math"

	"github.com/scalelab/scalelab/framework"
)

// ReplicasConfig configures the replicas design.
type ReplicasConfig struct {
	// Discrete selects a Discrete space (index = replicas − min_replicas) instead of a Box.
	Discrete bool `mapstructure:"discrete" doc:"use a Discrete space with index = replicas − workload.min_replicas instead of a one-dimensional Box" default:"false"`
}

// DefaultReplicasConfig returns the defaults: a Box space.
func DefaultReplicasConfig() ReplicasConfig { return ReplicasConfig{} }

// Replicas is the replicas design: the action is the absolute replica count within the
// workload's bounds [min, max]. By default the space is a one-dimensional Box [min, max] whose
// value is rounded half away from zero (baselines return the count itself); with discrete: true
// it is Discrete with N = max − min + 1 and index = replicas − min.
type Replicas struct {
	discrete bool
	min, max int
}

var _ framework.ActionDesign = (*Replicas)(nil)

// NewReplicas builds the design for the workload bounds [minReplicas, maxReplicas].
func NewReplicas(c ReplicasConfig, minReplicas, maxReplicas int) (*Replicas, error) {
	switch {
	case minReplicas < 0:
		return nil, fmt.Errorf("action design %s: workload.min_replicas must be ≥ 0, got %d", TypeReplicas, minReplicas)
	case maxReplicas < 1 || maxReplicas < minReplicas:
		return nil, fmt.Errorf("action design %s: workload.max_replicas must be ≥ 1 and ≥ min_replicas %d, got %d",
			TypeReplicas, minReplicas, maxReplicas)
	}
	return &Replicas{discrete: c.Discrete, min: minReplicas, max: maxReplicas}, nil
}

// Name returns "replicas".
func (d *Replicas) Name() string { return TypeReplicas }

// Space is Box [[min], [max]], or Discrete with N = max − min + 1.
func (d *Replicas) Space() framework.ActionSpace {
	if d.discrete {
		return framework.ActionSpace{Kind: framework.Discrete, N: d.max - d.min + 1, Names: []string{"replicas"}}
	}
	return framework.ActionSpace{
		Kind: framework.Box, Low: []float64{float64(d.min)}, High: []float64{float64(d.max)},
		Names: []string{"replicas"},
	}
}

// Translate asks for the action's replica count: the Box value rounded half away from zero,
// or min + index.
func (d *Replicas) Translate(a framework.Action, _ framework.ClusterView) (framework.Command, error) {
	if err := d.Space().Contains(a); err != nil {
		return framework.Command{}, fmt.Errorf("%s: %w", TypeReplicas, err)
	}
	r := int(math.Round(a.Values[0]))
	if d.discrete {
		r = d.min + int(a.Values[0])
	}
	return framework.Command{Replicas: framework.IntPtr(r)}, nil
}

// Hold returns the current desired replica count, clamped to [min, max] when it lies outside.
func (d *Replicas) Hold(view framework.ClusterView) (framework.Action, bool) {
	r := min(max(view.Replicas.Desired, d.min), d.max)
	if d.discrete {
		return index(r - d.min), true
	}
	return framework.Action{Values: []float64{float64(r)}}, true
}

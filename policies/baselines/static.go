package baselines

import (
	"context"
	"fmt"

	"github.com/scalelab/scalelab/framework"
)

// StaticConfig configures the static baseline.
type StaticConfig struct {
	Replicas int `mapstructure:"replicas" doc:"the fixed replica count; 0 means the workload's max_replicas (peak provisioning)" default:"0"`
}

// DefaultStaticConfig returns the defaults.
func DefaultStaticConfig() *StaticConfig { return &StaticConfig{} }

// Validate reports every out-of-range key.
func (c *StaticConfig) Validate() []error {
	if c.Replicas < 0 {
		return []error{fmt.Errorf("replicas: must be ≥ 0, got %d", c.Replicas)}
	}
	return nil
}

// check reports replica counts outside the workload's bounds.
func (c *StaticConfig) check(w framework.WorkloadConfig) []error {
	if c.Replicas > 0 && (c.Replicas < w.MinReplicas || c.Replicas > w.MaxReplicas) {
		return []error{fmt.Errorf("replicas: must lie within the workload's bounds [workload.min_replicas %d, workload.max_replicas %d], got %d",
			w.MinReplicas, w.MaxReplicas, c.Replicas)}
	}
	return nil
}

// Static holds a fixed replica count.
type Static struct {
	replicas int
}

var (
	_ framework.Policy               = (*Static)(nil)
	_ framework.ActionDesignRequirer = (*Static)(nil)
	_ framework.Builtin              = (*Static)(nil)
)

// NewStatic returns the static baseline for the workload.
func NewStatic(cfg *StaticConfig, w framework.WorkloadConfig) (*Static, error) {
	if errs := append(cfg.Validate(), cfg.check(w)...); len(errs) > 0 {
		return nil, fmt.Errorf("static: %w", errs[0])
	}
	n := cfg.Replicas
	if n == 0 {
		n = w.MaxReplicas
	}
	return &Static{replicas: n}, nil
}

// Act returns the fixed count.
func (s *Static) Act(ctx context.Context, _ framework.Observation) (framework.Action, error) {
	if err := ctx.Err(); err != nil {
		return framework.Action{}, fmt.Errorf("static: %w", err)
	}
	return framework.Action{Values: []float64{float64(s.replicas)}}, nil
}

// Replicas is the count the policy holds.
func (s *Static) Replicas() int { return s.replicas }

// RequiredActionDesign is "replicas".
func (s *Static) RequiredActionDesign() string { return "replicas" }

// BuiltinBaseline marks the policy as a baseline.
func (s *Static) BuiltinBaseline() {}

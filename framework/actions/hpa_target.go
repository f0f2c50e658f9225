package actions

import (
	"math"
	"slices"
	"strconv"

	"github.com/scalelab/scalelab/framework"
)

// HPATargetConfig configures the hpa_target design.
type HPATargetConfig struct {
	// Targets are the target CPU utilisations in percent, strictly increasing, each > 0.
	Targets []float64 `mapstructure:"targets" doc:"target CPU utilisations in percent to choose from, strictly increasing, each > 0" default:"[30 40 50 60 70 80 90]"`
}

// DefaultHPATargetConfig returns the defaults: targets 30, 40, …, 90 percent.
func DefaultHPATargetConfig() HPATargetConfig {
	return HPATargetConfig{Targets: []float64{30, 40, 50, 60, 70, 80, 90}}
}

// Validate reports every problem of the targets list.
func (c HPATargetConfig) Validate() []error {
	return checkIncreasing("targets", c.Targets,
		func(t float64) bool { return t > 0 && !math.IsInf(t, 0) }, "> 0 and finite",
		func(t float64) string { return strconv.FormatFloat(t, 'g', -1, 64) })
}

// HPATarget is the hpa_target design: a Discrete space over target CPU utilisations
// (percent); index i sets Command.HPATarget = targets[i], and an HPA (our algorithm in the
// simulator, the cluster's own on a real cluster) turns the target into replicas.
type HPATarget struct {
	targets []float64
}

var _ framework.ActionDesign = (*HPATarget)(nil)

// NewHPATarget builds the design from a validated config.
func NewHPATarget(c HPATargetConfig) (*HPATarget, error) {
	if err := framework.ValidationError("action design "+TypeHPATarget, c.Validate()); err != nil {
		return nil, err
	}
	return &HPATarget{targets: slices.Clone(c.Targets)}, nil
}

// Name returns "hpa_target".
func (d *HPATarget) Name() string { return TypeHPATarget }

// Space is Discrete with N = len(targets).
func (d *HPATarget) Space() framework.ActionSpace {
	return framework.ActionSpace{Kind: framework.Discrete, N: len(d.targets), Names: []string{"hpa_target_percent"}}
}

// Translate sets the HPA's target utilisation to targets[i].
func (d *HPATarget) Translate(a framework.Action, _ framework.ClusterView) (framework.Command, error) {
	i, err := discreteIndex(TypeHPATarget, d.Space(), a)
	if err != nil {
		return framework.Command{}, err
	}
	return framework.Command{HPATarget: framework.Float64Ptr(d.targets[i])}, nil
}

// Hold returns the target nearest to the one in force (view.HPATarget; ties go to the lower
// target). ok is false when the view reports no HPA target (0).
func (d *HPATarget) Hold(view framework.ClusterView) (framework.Action, bool) {
	cur := view.HPATarget
	if !(cur > 0) || math.IsInf(cur, 0) {
		return framework.Action{}, false
	}
	return index(nearest(d.targets, func(t float64) float64 { return math.Abs(t - cur) })), true
}

// Targets returns a copy of the target list.
func (d *HPATarget) Targets() []float64 { return slices.Clone(d.targets) }

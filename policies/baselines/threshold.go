package baselines

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/scalelab/scalelab/framework"
)

// ThresholdConfig configures the threshold baseline.
type ThresholdConfig struct {
	Feature             string        `mapstructure:"feature" doc:"catalogue feature compared with the thresholds (must be in the policy's state design)" default:"cpu_util"`
	Upper               float64       `mapstructure:"upper" doc:"scale up when the feature is above this value" default:"0.8"`
	Lower               float64       `mapstructure:"lower" doc:"scale down when the feature is below this value" default:"0.4"`
	StepUp              int           `mapstructure:"step_up" doc:"replicas added by a scale-up" default:"1"`
	StepDown            int           `mapstructure:"step_down" doc:"replicas removed by a scale-down" default:"1"`
	UpCooldown          time.Duration `mapstructure:"up_cooldown" doc:"after a scale-up, no scaling in either direction for this long (Nomad's cooldown_on_scale_up)" default:"30s"`
	DownCooldown        time.Duration `mapstructure:"down_cooldown" doc:"after a scale-down, no scaling in either direction for this long (Nomad's cooldown)" default:"2m"`
	WithinBoundsTrigger int           `mapstructure:"within_bounds_trigger" doc:"consecutive evaluations beyond a threshold needed to act (Nomad's within_bounds_trigger)" default:"1"`
	Period              time.Duration `mapstructure:"period" doc:"evaluation interval (Nomad's evaluation_interval)" default:"15s"`
}

// DefaultThresholdConfig returns the defaults.
func DefaultThresholdConfig() *ThresholdConfig {
	return &ThresholdConfig{
		Feature: "cpu_util", Upper: 0.8, Lower: 0.4, StepUp: 1, StepDown: 1,
		UpCooldown: 30 * time.Second, DownCooldown: 2 * time.Minute, WithinBoundsTrigger: 1, Period: 15 * time.Second,
	}
}

// Validate reports every out-of-range key.
func (c *ThresholdConfig) Validate() []error {
	var errs []error
	if _, err := framework.LookupFeature(c.Feature); err != nil {
		errs = append(errs, fmt.Errorf("feature: %w", err))
	}
	if !(c.Lower < c.Upper) {
		errs = append(errs, fmt.Errorf("lower: must be < upper (%g), got %g", c.Upper, c.Lower))
	}
	if c.StepUp < 1 {
		errs = append(errs, fmt.Errorf("step_up: must be ≥ 1, got %d", c.StepUp))
	}
	if c.StepDown < 1 {
		errs = append(errs, fmt.Errorf("step_down: must be ≥ 1, got %d", c.StepDown))
	}
	if c.UpCooldown < 0 {
		errs = append(errs, fmt.Errorf("up_cooldown: must be ≥ 0, got %s", c.UpCooldown))
	}
	if c.DownCooldown < 0 {
		errs = append(errs, fmt.Errorf("down_cooldown: must be ≥ 0, got %s", c.DownCooldown))
	}
	if c.WithinBoundsTrigger < 1 {
		errs = append(errs, fmt.Errorf("within_bounds_trigger: must be ≥ 1, got %d", c.WithinBoundsTrigger))
	}
	if c.Period <= 0 {
		errs = append(errs, fmt.Errorf("period: must be > 0, got %s", c.Period))
	}
	return errs
}

// checkFeatures reports a feature missing from the state design.
func (c *ThresholdConfig) checkFeatures(features []framework.FeatureSpec) error {
	names := make([]string, len(features))
	for i, f := range features {
		if f.Name == c.Feature {
			return nil
		}
		names[i] = f.Name
	}
	return fmt.Errorf("feature: %q is not in the state design [%s]; add it to state.features or to this policy's features",
		c.Feature, strings.Join(names, " "))
}

// Threshold is a step rule in the manner of Nomad Autoscaler's threshold strategy: when
// the feature has been above upper for within_bounds_trigger consecutive evaluations, add
// step_up replicas; below lower, remove step_down; otherwise hold. After a scale-up nothing
// changes for up_cooldown, after a scale-down for down_cooldown. A missing (invalid) value
// holds and restarts the counts.
//
//	        value > upper (n times)          value < lower (n times)
//	hold ───────────────────────────► +step_up        ───► −step_down
//	 ▲                                   │                      │
//	 └──── cooldown (up / down) ◄────────┴──────────────────────┘
type Threshold struct {
	cfg      ThresholdConfig
	w        framework.WorkloadConfig
	specs    []framework.FeatureSpec
	inited   bool
	above    int
	below    int
	coolTill time.Time
}

var (
	_ framework.Policy               = (*Threshold)(nil)
	_ framework.Initializer          = (*Threshold)(nil)
	_ framework.Periodic             = (*Threshold)(nil)
	_ framework.ActionDesignRequirer = (*Threshold)(nil)
	_ framework.Builtin              = (*Threshold)(nil)
	_ framework.Resetter             = (*Threshold)(nil)
)

// NewThreshold returns the threshold baseline for the workload.
func NewThreshold(cfg *ThresholdConfig, w framework.WorkloadConfig) (*Threshold, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("threshold: %w", errs[0])
	}
	return &Threshold{cfg: *cfg, w: w}, nil
}

// Init receives the state design and fails when the configured feature is not part of it.
func (p *Threshold) Init(s framework.Specs) error {
	if err := p.cfg.checkFeatures(s.Features); err != nil {
		return fmt.Errorf("threshold: %w", err)
	}
	p.specs = s.Features
	p.inited = true
	return nil
}

// Act applies the rule to the observation's feature value.
func (p *Threshold) Act(ctx context.Context, obs framework.Observation) (framework.Action, error) {
	if err := ctx.Err(); err != nil {
		return framework.Action{}, fmt.Errorf("threshold: %w", err)
	}
	if !p.inited {
		return framework.Action{}, fmt.Errorf("threshold: Act before Init")
	}
	now := obs.Time
	if now.IsZero() {
		now = obs.Cluster.Now
	}
	current := obs.Cluster.Replicas.Desired
	hold := framework.Action{Values: []float64{float64(current)}}

	v, ok := obs.Value(p.specs, p.cfg.Feature)
	switch {
	case !ok:
		p.above, p.below = 0, 0
		return hold, nil
	case v > p.cfg.Upper:
		p.above, p.below = p.above+1, 0
	case v < p.cfg.Lower:
		p.above, p.below = 0, p.below+1
	default:
		p.above, p.below = 0, 0
	}
	if now.Before(p.coolTill) {
		return hold, nil
	}
	lo, hi := bounds(obs.Cluster, p.w)
	target := current
	switch {
	case p.above >= p.cfg.WithinBoundsTrigger:
		target = min(current+p.cfg.StepUp, hi)
	case p.below >= p.cfg.WithinBoundsTrigger:
		target = max(current-p.cfg.StepDown, lo)
	}
	switch {
	case target > current:
		p.coolTill = now.Add(p.cfg.UpCooldown)
		p.above = 0
	case target < current:
		p.coolTill = now.Add(p.cfg.DownCooldown)
		p.below = 0
	}
	return framework.Action{Values: []float64{float64(target)}}, nil
}

// bounds returns the replica bounds of the view, or the workload's when the view has none.
func bounds(v framework.ClusterView, w framework.WorkloadConfig) (lo, hi int) {
	lo, hi = v.MinReplicas, v.MaxReplicas
	if hi <= 0 {
		lo, hi = w.MinReplicas, w.MaxReplicas
	}
	return lo, hi
}

// Period is the evaluation interval.
func (p *Threshold) Period() time.Duration { return p.cfg.Period }

// RequiredActionDesign is "replicas".
func (p *Threshold) RequiredActionDesign() string { return "replicas" }

// BuiltinBaseline marks the policy as a baseline with its own cooldowns.
func (p *Threshold) BuiltinBaseline() {}

// Reset clears the counts and the cooldown (a new episode).
func (p *Threshold) Reset() {
	p.above, p.below = 0, 0
	p.coolTill = time.Time{}
}

// Package target is the policy of the plugin-target example: target tracking on one
// feature, the rule behind the Kubernetes HPA and Nomad Autoscaler's target-value strategy.
// It is a package of its own so that tests can run the same policy in-process and compare.
package target

import (
	"errors"
	"fmt"
	"math"

	sdk "github.com/scalelab/scalelab/sdk/plugin"
)

// Config configures the policy.
type Config struct {
	// Feature is the tracked feature (a catalogue name, e.g. "cpu_util").
	Feature string
	// Target is the feature's target value per replica (e.g. 0.7 for 70 % CPU).
	Target float64
	// Tolerance is the relative band around the target within which the policy holds:
	// |value/target − 1| ≤ Tolerance means no change (the HPA uses 0.1).
	Tolerance float64
}

// DefaultConfig tracks 70 % CPU utilisation with the HPA's 10 % tolerance.
func DefaultConfig() Config { return Config{Feature: "cpu_util", Target: 0.7, Tolerance: 0.1} }

// Validate reports an unusable configuration.
func (c Config) Validate() error {
	var errs []error
	if c.Feature == "" {
		errs = append(errs, errors.New("feature: must name a feature"))
	}
	if !(c.Target > 0) || math.IsInf(c.Target, 0) {
		errs = append(errs, fmt.Errorf("target: must be a positive number, got %v", c.Target))
	}
	if !(c.Tolerance >= 0) || math.IsInf(c.Tolerance, 0) {
		errs = append(errs, fmt.Errorf("tolerance: must be ≥ 0, got %v", c.Tolerance))
	}
	return errors.Join(errs...)
}

// Policy is target tracking: with current replicas r and the tracked value v,
//
//	desired = ⌈r · v / target⌉   when |v/target − 1| > tolerance, else r
//
// (the HPA's formula). In the replica_delta design the change desired − r is clamped to
// ±max_step; in the replicas design (a one-dimensional box) desired is clamped to the box.
// A missing value means hold.
type Policy struct {
	cfg     Config
	design  string
	feature int // index of the tracked feature
	current int // index of replicas_desired, −1 when absent
	maxStep int // replica_delta: (N − 1)/2
	lo, hi  float64
}

var _ sdk.Policy = (*Policy)(nil)

// New returns the policy for a validated config.
func New(c Config) *Policy { return &Policy{cfg: c} }

// Init checks that the spec has the tracked feature and an action design the policy knows.
func (p *Policy) Init(s sdk.Spec) error {
	if err := p.cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %v", sdk.ErrInvalidArgument, err)
	}
	p.feature = s.FeatureIndex(p.cfg.Feature)
	if p.feature < 0 {
		return sdk.Unsupported(fmt.Sprintf("the state design has no feature %q", p.cfg.Feature))
	}
	p.current = s.FeatureIndex("replicas_desired")
	p.design = s.ActionDesign
	switch {
	case s.ActionDesign == "replica_delta" && s.Action.Kind == sdk.KindDiscrete:
		p.maxStep = (s.Action.N - 1) / 2
	case s.ActionDesign == "replicas" && s.Action.Kind == sdk.KindBox && s.Action.Dim == 1:
		if p.current < 0 {
			return sdk.Unsupported("the replicas design needs the feature replicas_desired")
		}
		p.lo, p.hi = s.Action.Low[0], s.Action.High[0]
	default:
		return sdk.Unsupported(fmt.Sprintf("action design %q with a %s space (want replica_delta or a box replicas)",
			s.ActionDesign, s.Action.Kind))
	}
	sdk.Logger().Info("target tracking initialised", "feature", p.cfg.Feature, "target", p.cfg.Target,
		"design", s.ActionDesign, "policy", s.PolicyName)
	return nil
}

// Act applies the target-tracking rule.
func (p *Policy) Act(obs []float64, valid []bool, action []float64) error {
	r, haveR := 1.0, false
	if p.current >= 0 && valid[p.current] {
		r, haveR = math.Max(obs[p.current], 1), true
	}
	desired := r
	if valid[p.feature] {
		ratio := obs[p.feature] / p.cfg.Target
		if math.Abs(ratio-1) > p.cfg.Tolerance {
			// The epsilon keeps representation error from rounding up a whole number:
			// 1.05/0.7·2 is 3.0000000000000004 in float64.
			desired = math.Ceil(r*ratio - 1e-9)
		}
	}
	switch p.design {
	case "replica_delta":
		delta := 0.0
		switch {
		case haveR:
			delta = desired - r
		case desired > r:
			delta = 1 // no replica count: step towards the target
		case desired < r:
			delta = -1
		}
		delta = math.Max(-float64(p.maxStep), math.Min(float64(p.maxStep), delta))
		action[0] = delta + float64(p.maxStep)
	default:
		if !haveR {
			return errors.New("replicas_desired is missing: cannot hold in the replicas design")
		}
		action[0] = math.Max(p.lo, math.Min(p.hi, desired))
	}
	return nil
}

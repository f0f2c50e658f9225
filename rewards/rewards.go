package rewards

import (
	"errors"
	"fmt"

	"github.com/scalelab/scalelab/framework"
)

// Config type names of the reward terms.
const (
	TypeGPUUtil      = "gpu_util"
	TypeCPUUtil      = "cpu_util"
	TypeReplicaCost  = "replica_cost"
	TypeLatency      = "latency"
	TypeQoSViolation = "qos_violation"
	TypeActionChange = "action_change"
)

// Register adds the factories of every reward term to r.
func Register(r *framework.Registry) {
	r.RegisterReward(framework.Factory[framework.RewardTerm]{
		Type: TypeGPUUtil,
		Doc:  "GPU utilisation benefit: GPU busy seconds / (GPUs · step seconds), in [0, 1]",
		New: func(framework.BuildContext, any) (framework.RewardTerm, error) {
			return GPUUtil{}, nil
		},
	})
	r.RegisterReward(framework.Factory[framework.RewardTerm]{
		Type:     TypeCPUUtil,
		Doc:      "resource efficiency benefit: CPU used / CPU requested over the step, capped",
		Defaults: func() any { c := DefaultCPUUtilConfig(); return &c },
		New: func(_ framework.BuildContext, cfg any) (framework.RewardTerm, error) {
			c, err := configOf(cfg, DefaultCPUUtilConfig)
			if err != nil {
				return nil, err
			}
			return NewCPUUtil(c)
		},
	})
	r.RegisterReward(framework.Factory[framework.RewardTerm]{
		Type:     TypeReplicaCost,
		Doc:      "cost penalty: −(mean replicas, or GPU shares, over the step) / max_replicas",
		Defaults: func() any { c := DefaultReplicaCostConfig(); return &c },
		New: func(_ framework.BuildContext, cfg any) (framework.RewardTerm, error) {
			c, err := configOf(cfg, DefaultReplicaCostConfig)
			if err != nil {
				return nil, err
			}
			return NewReplicaCost(c)
		},
	})
	r.RegisterReward(framework.Factory[framework.RewardTerm]{
		Type:     TypeLatency,
		Doc:      "latency penalty against the SLO on a quantile (or the mean) of the step's latencies: linear, hinge or exponential shape, capped",
		Defaults: func() any { c := DefaultLatencyConfig(); return &c },
		New: func(bc framework.BuildContext, cfg any) (framework.RewardTerm, error) {
			c, err := configOf(cfg, DefaultLatencyConfig)
			if err != nil {
				return nil, err
			}
			return NewLatency(c, bc.SLO.Latency)
		},
	})
	r.RegisterReward(framework.Factory[framework.RewardTerm]{
		Type: TypeQoSViolation,
		Doc:  "QoS penalty: −(SLO violations + drops + failures) / arrivals over the step",
		New: func(framework.BuildContext, any) (framework.RewardTerm, error) {
			return QoSViolation{}, nil
		},
	})
	r.RegisterReward(framework.Factory[framework.RewardTerm]{
		Type: TypeActionChange,
		Doc:  "action-change penalty: −|applied − previous replicas| / max(1, max_replicas − min_replicas)",
		New: func(framework.BuildContext, any) (framework.RewardTerm, error) {
			return ActionChange{}, nil
		},
	})
}

// configOf returns the decoded config behind cfg (a *T from Defaults, or a T), or the
// defaults when cfg is nil.
func configOf[T any](cfg any, defaults func() T) (T, error) {
	switch c := cfg.(type) {
	case nil:
		return defaults(), nil
	case *T:
		if c == nil {
			return defaults(), nil
		}
		return *c, nil
	case T:
		return c, nil
	default:
		var zero T
		return zero, fmt.Errorf("reward term: config is %T, want %T", cfg, &zero)
	}
}

// validationError joins the errors of a Validate method, or returns nil.
func validationError(term string, errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("reward term %s: %w", term, errors.Join(errs...))
}

// stepSeconds is the step's length T in seconds: the window's duration when it has one,
// else the nominal control interval; 0 when neither is positive.
func stepSeconds(s framework.StepInfo) float64 {
	if d := s.Window.Duration(); d > 0 {
		return d.Seconds()
	}
	if s.Interval > 0 {
		return s.Interval.Seconds()
	}
	return 0
}

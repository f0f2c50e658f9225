package rewards

import (
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
			c, err := framework.ConfigAs(cfg, DefaultCPUUtilConfig)
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
			c, err := framework.ConfigAs(cfg, DefaultReplicaCostConfig)
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
			c, err := framework.ConfigAs(cfg, DefaultLatencyConfig)
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

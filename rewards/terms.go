package rewards

import (
	"fmt"
	"math"
	"time"

	"github.com/scalelab/scalelab/framework"
)

// GPUUtil is the gpu_util benefit: the busy fraction of the cluster's physical GPUs over the
// step,
//
//	r = clamp(GPUBusySeconds / (GPUCount · T), 0, 1),
//
// 0 when the window reports no GPU or no time. It rewards keeping the GPU busy (batching
// well, not over-provisioning idle replicas onto an otherwise idle GPU).
type GPUUtil struct{}

var _ framework.RewardTerm = GPUUtil{}

// Value returns the GPU busy fraction of the step.
func (GPUUtil) Value(s framework.StepInfo) float64 {
	t := stepSeconds(s)
	n := s.Window.Totals.GPUCount
	if n <= 0 || t <= 0 {
		return 0
	}
	return clamp(s.Window.Totals.GPUBusySeconds/(float64(n)*t), 0, 1)
}

// CPUUtilConfig configures the cpu_util term.
type CPUUtilConfig struct {
	// Cap bounds the ratio from above (pods may use more CPU than they request).
	Cap float64 `mapstructure:"cap" doc:"upper bound of CPU used / CPU requested (pods may burst above their request)" default:"1"`
}

// DefaultCPUUtilConfig returns the defaults: cap 1.
func DefaultCPUUtilConfig() CPUUtilConfig { return CPUUtilConfig{Cap: 1} }

// Validate reports every out-of-range key.
func (c CPUUtilConfig) Validate() []error {
	if !(c.Cap > 0) || math.IsInf(c.Cap, 0) {
		return []error{fmt.Errorf("cap: must be > 0 and finite, got %v", c.Cap)}
	}
	return nil
}

// CPUUtil is the cpu_util (resource efficiency) benefit: the share of the requested CPU the
// workload's pods used over the step,
//
//	r = min(cap, CPUSeconds / CPURequestSeconds),
//
// 0 when nothing was requested. It rewards right-sizing: replicas that exist but idle lower it.
type CPUUtil struct {
	cap float64
}

var _ framework.RewardTerm = (*CPUUtil)(nil)

// NewCPUUtil builds the term from a validated config.
func NewCPUUtil(c CPUUtilConfig) (*CPUUtil, error) {
	if err := framework.ValidationError("reward term "+TypeCPUUtil, c.Validate()); err != nil {
		return nil, err
	}
	return &CPUUtil{cap: c.Cap}, nil
}

// Value returns the capped CPU efficiency of the step.
func (u *CPUUtil) Value(s framework.StepInfo) float64 {
	tot := s.Window.Totals
	if tot.CPURequestSeconds <= 0 {
		return 0
	}
	return clamp(tot.CPUSeconds/tot.CPURequestSeconds, 0, u.cap)
}

// Cost bases of the replica_cost term.
const (
	BasisReplicas = "replicas"
	BasisGPU      = "gpu"
)

// ReplicaCostConfig configures the replica_cost term.
type ReplicaCostConfig struct {
	// Basis selects what is paid for: pods (replicas) or allocated GPU shares (gpu).
	Basis string `mapstructure:"basis" doc:"what costs: replicas (pods that exist, any phase but Terminating) or gpu (nvidia.com/gpu shares allocated)" default:"replicas"`
	// GPUPerReplica is the GPU shares one replica requests (the gpu basis normalises by
	// max_replicas · gpu_per_replica).
	GPUPerReplica float64 `mapstructure:"gpu_per_replica" doc:"nvidia.com/gpu shares one replica requests; the gpu basis divides by max_replicas × this" default:"1"`
}

// DefaultReplicaCostConfig returns the defaults: the replicas basis, one GPU share per replica.
func DefaultReplicaCostConfig() ReplicaCostConfig {
	return ReplicaCostConfig{Basis: BasisReplicas, GPUPerReplica: 1}
}

// Validate reports every out-of-range key.
func (c ReplicaCostConfig) Validate() []error {
	var errs []error
	if c.Basis != BasisReplicas && c.Basis != BasisGPU {
		errs = append(errs, fmt.Errorf("basis: must be %s or %s, got %q", BasisReplicas, BasisGPU, c.Basis))
	}
	if !(c.GPUPerReplica > 0) || math.IsInf(c.GPUPerReplica, 0) {
		errs = append(errs, fmt.Errorf("gpu_per_replica: must be > 0 and finite, got %v", c.GPUPerReplica))
	}
	return errs
}

// ReplicaCost is the replica_cost penalty: the mean number of replicas over the step,
// normalised by the most the workload may have,
//
//	replicas basis: r = −(ReplicaSeconds / T) / M
//	gpu basis:      r = −(GPUSeconds / T) / (M · gpu_per_replica)
//
// where M = max(1, MaxReplicas). With every allowed replica running all step long the
// penalty is −1. The gpu basis counts only pods holding a GPU share (a Pending pod holds none).
type ReplicaCost struct {
	gpu           bool
	gpuPerReplica float64
}

var _ framework.RewardTerm = (*ReplicaCost)(nil)

// NewReplicaCost builds the term from a validated config.
func NewReplicaCost(c ReplicaCostConfig) (*ReplicaCost, error) {
	if err := framework.ValidationError("reward term "+TypeReplicaCost, c.Validate()); err != nil {
		return nil, err
	}
	return &ReplicaCost{gpu: c.Basis == BasisGPU, gpuPerReplica: c.GPUPerReplica}, nil
}

// Value returns the normalised replica (or GPU-share) cost of the step, ≤ 0.
func (c *ReplicaCost) Value(s framework.StepInfo) float64 {
	t := stepSeconds(s)
	if t <= 0 {
		return 0
	}
	m := float64(max(1, s.MaxReplicas))
	if c.gpu {
		return -(s.Window.Totals.GPUSeconds / t) / (m * c.gpuPerReplica)
	}
	return -(s.Window.Totals.ReplicaSeconds / t) / m
}

// Latency statistics and penalty shapes.
const (
	StatisticQuantile = "quantile"
	StatisticMean     = "mean"

	ShapeLinear      = "linear"
	ShapeHinge       = "hinge"
	ShapeExponential = "exponential"
)

// LatencyConfig configures the latency term.
type LatencyConfig struct {
	// Statistic is what is compared with the SLO: a quantile of the step's latencies or their mean.
	Statistic string `mapstructure:"statistic" doc:"latency statistic compared with the SLO: quantile or mean" default:"quantile"`
	// Quantile is the quantile used when Statistic is quantile.
	Quantile float64 `mapstructure:"quantile" doc:"quantile in (0, 1] of the step's latencies (statistic: quantile)" default:"0.95"`
	// Shape turns x = latency / SLO into a penalty.
	Shape string `mapstructure:"shape" doc:"penalty shape of x = latency/SLO: linear −x, hinge −max(0, x−(1−margin)), exponential −(exp(k·max(0, x−(1−margin)))−1)" default:"hinge"`
	// Margin moves the hinge point below the SLO (hinge and exponential shapes).
	Margin float64 `mapstructure:"margin" doc:"hinge and exponential shapes start penalising at x = 1 − margin; in [0, 1)" default:"0"`
	// K is the growth rate of the exponential shape.
	K float64 `mapstructure:"k" doc:"growth rate of the exponential shape, > 0" default:"1"`
	// Cap bounds the penalty's magnitude; it is also the penalty of a step in which requests
	// arrived but none completed.
	Cap float64 `mapstructure:"cap" doc:"largest penalty magnitude; also the penalty when requests arrived but none completed" default:"10"`
}

// DefaultLatencyConfig returns the defaults: hinge on the p95 at the SLO, cap 10.
func DefaultLatencyConfig() LatencyConfig {
	return LatencyConfig{Statistic: StatisticQuantile, Quantile: 0.95, Shape: ShapeHinge, K: 1, Cap: 10}
}

// Validate reports every out-of-range key.
func (c LatencyConfig) Validate() []error {
	var errs []error
	if c.Statistic != StatisticQuantile && c.Statistic != StatisticMean {
		errs = append(errs, fmt.Errorf("statistic: must be %s or %s, got %q", StatisticQuantile, StatisticMean, c.Statistic))
	}
	if !(c.Quantile > 0 && c.Quantile <= 1) {
		errs = append(errs, fmt.Errorf("quantile: must be in (0, 1], got %v", c.Quantile))
	}
	switch c.Shape {
	case ShapeLinear, ShapeHinge, ShapeExponential:
	default:
		errs = append(errs, fmt.Errorf("shape: must be %s, %s or %s, got %q", ShapeLinear, ShapeHinge, ShapeExponential, c.Shape))
	}
	if !(c.Margin >= 0 && c.Margin < 1) {
		errs = append(errs, fmt.Errorf("margin: must be in [0, 1), got %v", c.Margin))
	}
	if !(c.K > 0) || math.IsInf(c.K, 0) {
		errs = append(errs, fmt.Errorf("k: must be > 0 and finite, got %v", c.K))
	}
	if !(c.Cap > 0) || math.IsInf(c.Cap, 0) {
		errs = append(errs, fmt.Errorf("cap: must be > 0 and finite, got %v", c.Cap))
	}
	return errs
}

// Latency is the latency penalty against the SLO. With L the step's latency statistic (the
// q-quantile of the window's latency histogram, or its exact mean) and x = L / SLO:
//
//	linear:      r = −x
//	hinge:       r = −max(0, x − h)
//	exponential: r = −(exp(k · max(0, x − h)) − 1)
//
// with h = 1 − margin (so with the default margin 0 the hinge sits at the SLO), and every
// shape bounded: r = max(r, −cap). A step whose requests all failed to complete (arrivals > 0,
// no completion in the histogram: everything timed out or was dropped) gets −cap; a step
// with neither arrivals nor completions gets 0. Drops and failures are not latencies: the
// qos_violation term counts them. The SLO is StepInfo.SLO, or the configured slo.latency
// when the step carries none.
type Latency struct {
	cfg LatencyConfig
	slo float64 // fallback SLO in ms
}

var _ framework.RewardTerm = (*Latency)(nil)

// NewLatency builds the term from a validated config; slo is the configured objective used
// when a step carries none.
func NewLatency(c LatencyConfig, slo time.Duration) (*Latency, error) {
	errs := c.Validate()
	if slo <= 0 {
		errs = append(errs, fmt.Errorf("slo.latency: must be > 0 for the latency term, got %v", slo))
	}
	if err := framework.ValidationError("reward term "+TypeLatency, errs); err != nil {
		return nil, err
	}
	return &Latency{cfg: c, slo: msOf(slo)}, nil
}

// Value returns the step's latency penalty, in [−cap, 0] (the linear shape is −x, also ≤ 0).
func (l *Latency) Value(s framework.StepInfo) float64 {
	h := s.Window.Latency
	if h == nil || h.Count() == 0 {
		if s.Window.Totals.Arrivals > 0 {
			return -l.cfg.Cap
		}
		return 0
	}
	slo := l.slo
	if s.SLO > 0 {
		slo = msOf(s.SLO)
	}
	var lat float64
	if l.cfg.Statistic == StatisticMean {
		lat = h.MeanMS()
	} else {
		lat = h.QuantileMS(l.cfg.Quantile)
	}
	x := lat / slo
	var p float64 // the penalty's magnitude
	switch l.cfg.Shape {
	case ShapeLinear:
		p = x
	case ShapeHinge:
		p = max(0, x-(1-l.cfg.Margin))
	case ShapeExponential:
		p = math.Expm1(l.cfg.K * max(0, x-(1-l.cfg.Margin)))
	}
	return -min(p, l.cfg.Cap)
}

// QoSViolation is the qos_violation penalty: the share of the step's arrivals that missed
// the objective,
//
//	r = −min(1, (SLOViolations + Drops + Failures) / Arrivals),
//
// 0 when nothing arrived. The counts are events of the window, so while a backlog drains
// they can exceed the window's arrivals; the bound keeps r in [−1, 0].
type QoSViolation struct{}

var _ framework.RewardTerm = QoSViolation{}

// Value returns the step's QoS-violation penalty.
func (QoSViolation) Value(s framework.StepInfo) float64 {
	t := s.Window.Totals
	if t.Arrivals <= 0 {
		return 0
	}
	bad := float64(t.SLOViolations + t.Drops + t.Failures)
	return -min(1, bad/float64(t.Arrivals))
}

// ActionChange is the action_change penalty: how far the step moved the replica target,
// relative to the allowed range,
//
//	r = −|Applied.Replicas − PrevReplicas| / max(1, MaxReplicas − MinReplicas),
//
// so the largest possible move costs −1. It discourages oscillation.
type ActionChange struct{}

var _ framework.RewardTerm = ActionChange{}

// Value returns the step's action-change penalty.
func (ActionChange) Value(s framework.StepInfo) float64 {
	d := s.Applied.Replicas - s.PrevReplicas
	if d < 0 {
		d = -d
	}
	return -float64(d) / float64(max(1, s.MaxReplicas-s.MinReplicas))
}

func clamp(x, lo, hi float64) float64 { return min(max(x, lo), hi) }

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

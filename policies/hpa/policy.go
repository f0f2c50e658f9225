package hpa

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/policies/hpa/algorithm"
)

// Type is the policy's config type name.
const Type = "hpa"

// Config holds the policy's keys besides `spec`: kube-controller-manager's HPA flags.
type Config struct {
	SyncPeriod              time.Duration `mapstructure:"sync_period" doc:"controller sync period (--horizontal-pod-autoscaler-sync-period); the policy acts on this period" default:"15s"`
	Tolerance               float64       `mapstructure:"tolerance" doc:"cluster-wide usage-ratio tolerance (--horizontal-pod-autoscaler-tolerance); spec.behavior.scaleUp/scaleDown.tolerance override it per direction" default:"0.1"`
	CPUInitializationPeriod time.Duration `mapstructure:"cpu_initialization_period" doc:"after a pod starts, its CPU samples count only once it is ready and a full metric window has passed (--horizontal-pod-autoscaler-cpu-initialization-period)" default:"5m"`
	InitialReadinessDelay   time.Duration `mapstructure:"initial_readiness_delay" doc:"a readiness change this soon after a pod starts counts as its initial readiness (--horizontal-pod-autoscaler-initial-readiness-delay)" default:"30s"`
	DownscaleStabilization  time.Duration `mapstructure:"downscale_stabilization" doc:"legacy scale-down stabilisation window and default of behavior.scaleDown.stabilizationWindowSeconds (--horizontal-pod-autoscaler-downscale-stabilization)" default:"5m"`
}

// DefaultConfig returns kube-controller-manager's defaults.
func DefaultConfig() *Config {
	return &Config{
		SyncPeriod:              algorithm.DefaultSyncPeriod,
		Tolerance:               algorithm.DefaultTolerance,
		CPUInitializationPeriod: algorithm.DefaultCPUInitializationPeriod,
		InitialReadinessDelay:   algorithm.DefaultInitialReadinessDelay,
		DownscaleStabilization:  algorithm.DefaultDownscaleStabilizationWindow,
	}
}

// Validate reports every out-of-range key.
func (c *Config) Validate() []error {
	var errs []error
	if c.SyncPeriod <= 0 {
		errs = append(errs, fmt.Errorf("sync_period: must be > 0, got %s", c.SyncPeriod))
	}
	if c.Tolerance < 0 {
		errs = append(errs, fmt.Errorf("tolerance: must be ≥ 0, got %g", c.Tolerance))
	}
	if c.CPUInitializationPeriod < 0 {
		errs = append(errs, fmt.Errorf("cpu_initialization_period: must be ≥ 0, got %s", c.CPUInitializationPeriod))
	}
	if c.InitialReadinessDelay < 0 {
		errs = append(errs, fmt.Errorf("initial_readiness_delay: must be ≥ 0, got %s", c.InitialReadinessDelay))
	}
	if c.DownscaleStabilization < 0 {
		errs = append(errs, fmt.Errorf("downscale_stabilization: must be ≥ 0, got %s", c.DownscaleStabilization))
	}
	return errs
}

// Settings returns the algorithm settings of the config.
func (c *Config) Settings() algorithm.Settings {
	return algorithm.Settings{
		Tolerance:                    c.Tolerance,
		CPUInitializationPeriod:      c.CPUInitializationPeriod,
		InitialReadinessDelay:        c.InitialReadinessDelay,
		DownscaleStabilizationWindow: c.DownscaleStabilization,
	}
}

// Register adds the "hpa" policy factory to r.
func Register(r *framework.Registry) {
	r.RegisterPolicy(framework.Factory[framework.Policy]{
		Type:     Type,
		Doc:      "the Kubernetes HorizontalPodAutoscaler (autoscaling/v2) as kube-controller-manager runs it, with `spec` written as in a cluster manifest",
		Defaults: func() any { return DefaultConfig() },
		RawKeys:  []string{"spec"},
		Check: func(bc framework.BuildContext, cfg any) []error {
			_, errs := ResolveSpec(rawSpec(bc), bc.Workload)
			return errs
		},
		New: func(bc framework.BuildContext, cfg any) (framework.Policy, error) {
			c, ok := cfg.(*Config)
			if !ok || c == nil {
				c = DefaultConfig()
			}
			return New(rawSpec(bc), bc.Workload, c, bc.Logger)
		},
	})
}

// rawSpec returns the case-preserved `spec` subtree, or nil when the config has none.
func rawSpec(bc framework.BuildContext) any {
	if bc.Raw == nil {
		return nil
	}
	return bc.Raw["spec"]
}

// Status is what the policy exposes for trajectories and debugging: the outcome of the
// last sync.
type Status struct {
	// Time is the sync's time (zero before the first sync).
	Time time.Time `json:"time"`
	// Result holds the replicas set, the metrics' proposal and the HPA status (current
	// metrics, conditions such as ScalingLimited, desired replicas).
	Result algorithm.Result `json:"result"`
	// Error is the metrics error of the sync ("" when every metric worked). The HPA then
	// held or proceeded exactly as kube-controller-manager does.
	Error string `json:"error,omitempty"`
}

// Policy is the HPA baseline: it runs the algorithm on its own sync period, reading the
// cluster view as metrics-server / prometheus-adapter would present it, and returns the
// replicas kube-controller-manager would set.
type Policy struct {
	cfg  Config
	ctrl *algorithm.Controller
	log  *slog.Logger
	last Status
}

var (
	_ framework.Policy               = (*Policy)(nil)
	_ framework.Periodic             = (*Policy)(nil)
	_ framework.ActionDesignRequirer = (*Policy)(nil)
	_ framework.Builtin              = (*Policy)(nil)
	_ framework.Resetter             = (*Policy)(nil)
)

// New builds the policy from a raw spec (see ResolveSpec), the workload bounds and the
// config. logger may be nil.
func New(raw any, w framework.WorkloadConfig, cfg *Config, logger *slog.Logger) (*Policy, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("hpa: %w", errors.Join(errs...))
	}
	spec, errs := ResolveSpec(raw, w)
	if len(errs) > 0 {
		return nil, fmt.Errorf("hpa: %w", errors.Join(errs...))
	}
	ctrl, err := algorithm.NewController(spec, cfg.Settings())
	if err != nil {
		return nil, fmt.Errorf("hpa: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Policy{cfg: *cfg, ctrl: ctrl, log: logger}, nil
}

// Spec returns the defaulted spec the policy runs.
func (p *Policy) Spec() autoscalingv2.HorizontalPodAutoscalerSpec { return p.ctrl.Spec() }

// Act runs one controller sync at the observation's time and returns the replica count
// (the "replicas" action design). A metric that fails is not an error of the policy: the
// HPA holds or proceeds as upstream does, and the error is kept in LastStatus.
func (p *Policy) Act(ctx context.Context, obs framework.Observation) (framework.Action, error) {
	if err := ctx.Err(); err != nil {
		return framework.Action{}, fmt.Errorf("hpa: %w", err)
	}
	now := obs.Cluster.Now
	if now.IsZero() {
		now = obs.Time
	}
	res, err := p.ctrl.Sync(now, InputFromView(obs.Cluster))
	p.last = Status{Time: now, Result: res}
	if err != nil {
		p.last.Error = err.Error()
		p.log.Debug("hpa metrics failed", "time", now, "replicas", res.Replicas, "err", err)
	}
	return framework.Action{Values: []float64{float64(res.Replicas)}}, nil
}

// LastStatus returns the outcome of the last sync.
func (p *Policy) LastStatus() Status { return p.last }

// Period is the sync period (framework.Periodic).
func (p *Policy) Period() time.Duration { return p.cfg.SyncPeriod }

// RequiredActionDesign is "replicas": the policy outputs absolute replica counts.
func (p *Policy) RequiredActionDesign() string { return "replicas" }

// BuiltinBaseline marks the HPA as a baseline governed by its own spec.
func (p *Policy) BuiltinBaseline() {}

// Reset forgets the recommendation history, scale events and status (a new episode).
func (p *Policy) Reset() {
	p.ctrl.Reset()
	p.last = Status{}
}

package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/scalelab/scalelab/framework"
)

// The fake components below stand in for the real ones (which live in packages the
// framework must not import). They exercise every hook the loader calls: Defaults,
// Validate (both forms), Check, RawKeys and Files.

type fakeBackendConfig struct {
	Scenario string        `mapstructure:"scenario" doc:"scenario name" default:"edge"`
	Nodes    int           `mapstructure:"nodes" doc:"number of nodes" default:"1"`
	Jitter   float64       `mapstructure:"jitter" doc:"service-time jitter CV" default:"0.1"`
	Startup  time.Duration `mapstructure:"startup" doc:"pod start-up delay" default:"5s"`
	Trace    string        `mapstructure:"trace" doc:"optional replay file"`
	Mode     mode          `mapstructure:"mode" doc:"eco or turbo" default:"eco"`
}

// mode is an enum decoded through encoding.TextUnmarshaler.
type mode string

func (m *mode) UnmarshalText(b []byte) error {
	switch s := string(b); s {
	case "eco", "turbo":
		*m = mode(s)
		return nil
	default:
		return fmt.Errorf("must be eco or turbo")
	}
}

func (c *fakeBackendConfig) Validate() []error {
	var errs []error
	if c.Nodes < 1 {
		errs = append(errs, fmt.Errorf("nodes: must be ≥ 1, got %d", c.Nodes))
	}
	if c.Jitter < 0 {
		errs = append(errs, fmt.Errorf("jitter: must be ≥ 0, got %v", c.Jitter))
	}
	return errs
}

type deltaConfig struct {
	MaxStep int `mapstructure:"max_step" doc:"largest change per decision" default:"1"`
}

func (c *deltaConfig) Validate() error {
	if c.MaxStep < 1 {
		return fmt.Errorf("max_step: must be ≥ 1, got %d", c.MaxStep)
	}
	return nil
}

type latencyConfig struct {
	Quantile float64 `mapstructure:"quantile" doc:"latency quantile" default:"0.95"`
	Shape    string  `mapstructure:"shape" doc:"linear, hinge or exponential" default:"hinge"`
	Cap      float64 `mapstructure:"cap" doc:"largest penalty" default:"10"`
}

func (c *latencyConfig) Validate() []error {
	var errs []error
	if c.Quantile <= 0 || c.Quantile >= 1 {
		errs = append(errs, fmt.Errorf("quantile: must be in (0, 1), got %v", c.Quantile))
	}
	switch c.Shape {
	case "linear", "hinge", "exponential":
	default:
		errs = append(errs, fmt.Errorf("shape: must be linear, hinge or exponential, got %q", c.Shape))
	}
	return errs
}

type hpaConfig struct {
	SyncPeriod time.Duration `mapstructure:"sync_period" doc:"HPA sync period" default:"15s"`
	Tolerance  float64       `mapstructure:"tolerance" doc:"HPA tolerance" default:"0.1"`
}

// hpaSpec is the part of a HorizontalPodAutoscalerSpec the fake Check reads.
type hpaSpec struct {
	MinReplicas *int32 `json:"minReplicas,omitempty"`
	MaxReplicas int32  `json:"maxReplicas"`
	Metrics     []any  `json:"metrics,omitempty"`
}

// checkHPA decodes the raw spec strictly, as the real HPA policy does, and reports in the
// API server's wording.
func checkHPA(bc framework.BuildContext, _ any) []error {
	raw, ok := bc.Raw["spec"]
	if !ok {
		return nil
	}
	data, err := sigsyaml.Marshal(raw)
	if err != nil {
		return []error{fmt.Errorf("spec: %w", err)}
	}
	var spec hpaSpec
	if err := sigsyaml.UnmarshalStrict(data, &spec); err != nil {
		return []error{fmt.Errorf("spec: %w", err)}
	}
	var errs []error
	if spec.MinReplicas != nil && *spec.MinReplicas < 1 {
		errs = append(errs, fmt.Errorf("spec.minReplicas: Invalid value: %d: must be greater than or equal to 1", *spec.MinReplicas))
	}
	if int(spec.MaxReplicas) > bc.Workload.MaxReplicas {
		errs = append(errs, fmt.Errorf("spec.maxReplicas: Invalid value: %d: must not exceed workload.max_replicas (%d)", spec.MaxReplicas, bc.Workload.MaxReplicas))
	}
	return errs
}

type staticConfig struct {
	Replicas int `mapstructure:"replicas" doc:"fixed replica count" default:"1"`
}

type cooldowns struct {
	Up   time.Duration `mapstructure:"up" doc:"after a scale-up" default:"1m"`
	Down time.Duration `mapstructure:"down" doc:"after a scale-down" default:"5m"`
}

type thresholdConfig struct {
	Feature  string    `mapstructure:"feature" doc:"catalogue feature compared" default:"cpu_util"`
	Upper    float64   `mapstructure:"upper" doc:"scale up above" default:"0.8"`
	Lower    float64   `mapstructure:"lower" doc:"scale down below" default:"0.3"`
	Steps    []int     `mapstructure:"steps" doc:"replica steps" default:"[1 2]"`
	Cooldown cooldowns `mapstructure:"cooldown" doc:"cooldowns"`
}

type ppoConfig struct {
	Checkpoint string `mapstructure:"checkpoint" doc:"checkpoint file"`
	Hidden     []int  `mapstructure:"hidden" doc:"hidden layer sizes" default:"[64 64]"`
}

var errNotBuilt = errors.New("fake components are not built in config tests")

// fakeRegistry returns a registry of fake components.
func fakeRegistry() *framework.Registry {
	r := framework.NewRegistry()
	r.RegisterBackend(framework.Factory[framework.Backend]{
		Type: "fakesim",
		Doc:  "a fake simulator",
		Defaults: func() any {
			return &fakeBackendConfig{Scenario: "edge", Nodes: 1, Jitter: 0.1, Startup: 5 * time.Second, Mode: "eco"}
		},
		New: func(framework.BuildContext, any) (framework.Backend, error) { return nil, errNotBuilt },
		Files: func(baseDir string, cfg any) []string {
			if c := cfg.(*fakeBackendConfig); c.Trace != "" {
				return []string{filepath.Join(baseDir, c.Trace)}
			}
			return nil
		},
	})
	r.RegisterBackend(framework.Factory[framework.Backend]{
		Type: "nocollector",
		Doc:  "a backend without collector or actuator",
		New:  func(framework.BuildContext, any) (framework.Backend, error) { return nil, errNotBuilt },
	})
	r.RegisterCollector(framework.Factory[framework.Collector]{
		Type: "fakesim",
		New:  func(framework.BuildContext, any) (framework.Collector, error) { return nil, errNotBuilt },
	})
	r.RegisterActuator(framework.Factory[framework.Actuator]{
		Type: "fakesim",
		New:  func(framework.BuildContext, any) (framework.Actuator, error) { return nil, errNotBuilt },
	})
	r.RegisterAction(framework.Factory[framework.ActionDesign]{
		Type:     "replica_delta",
		Doc:      "change replicas by a step",
		Defaults: func() any { return &deltaConfig{MaxStep: 1} },
		New:      func(framework.BuildContext, any) (framework.ActionDesign, error) { return nil, errNotBuilt },
	})
	r.RegisterAction(framework.Factory[framework.ActionDesign]{
		Type: "replicas",
		Doc:  "absolute replicas",
		New:  func(framework.BuildContext, any) (framework.ActionDesign, error) { return nil, errNotBuilt },
	})
	r.RegisterReward(framework.Factory[framework.RewardTerm]{
		Type: "gpu_util",
		Doc:  "GPU utilisation benefit",
		New:  func(framework.BuildContext, any) (framework.RewardTerm, error) { return nil, errNotBuilt },
	})
	r.RegisterReward(framework.Factory[framework.RewardTerm]{
		Type:     "latency",
		Doc:      "latency penalty against the SLO",
		Defaults: func() any { return &latencyConfig{Quantile: 0.95, Shape: "hinge", Cap: 10} },
		New:      func(framework.BuildContext, any) (framework.RewardTerm, error) { return nil, errNotBuilt },
	})
	r.RegisterPolicy(framework.Factory[framework.Policy]{
		Type:     "hpa",
		Doc:      "the Kubernetes HPA",
		Defaults: func() any { return &hpaConfig{SyncPeriod: 15 * time.Second, Tolerance: 0.1} },
		RawKeys:  []string{"spec"},
		Check:    checkHPA,
		New:      func(framework.BuildContext, any) (framework.Policy, error) { return nil, errNotBuilt },
	})
	r.RegisterPolicy(framework.Factory[framework.Policy]{
		Type:     "static",
		Doc:      "fixed replicas",
		Defaults: func() any { return &staticConfig{Replicas: 1} },
		New:      func(framework.BuildContext, any) (framework.Policy, error) { return nil, errNotBuilt },
	})
	r.RegisterPolicy(framework.Factory[framework.Policy]{
		Type: "threshold",
		Doc:  "step rule on a feature",
		Defaults: func() any {
			return &thresholdConfig{Feature: "cpu_util", Upper: 0.8, Lower: 0.3, Steps: []int{1, 2},
				Cooldown: cooldowns{Up: time.Minute, Down: 5 * time.Minute}}
		},
		New: func(framework.BuildContext, any) (framework.Policy, error) { return nil, errNotBuilt },
	})
	r.RegisterPolicy(framework.Factory[framework.Policy]{
		Type:     "ppo",
		Doc:      "a learned policy",
		Defaults: func() any { return &ppoConfig{Hidden: []int{64, 64}} },
		Files: func(baseDir string, cfg any) []string {
			if c := cfg.(*ppoConfig); c.Checkpoint != "" {
				return []string{filepath.Join(baseDir, c.Checkpoint)}
			}
			return nil
		},
		New: func(framework.BuildContext, any) (framework.Policy, error) { return nil, errNotBuilt },
	})
	r.RegisterPolicy(framework.Factory[framework.Policy]{
		Type:  "panicky",
		Doc:   "a policy whose Check panics",
		Check: func(framework.BuildContext, any) []error { panic("boom") },
		New:   func(framework.BuildContext, any) (framework.Policy, error) { return nil, errNotBuilt },
	})
	return r
}

package baselines

import (
	"github.com/scalelab/scalelab/framework"
)

// Register adds the "static", "threshold" and "kpa" policy factories to r.
func Register(r *framework.Registry) {
	r.RegisterPolicy(framework.Factory[framework.Policy]{
		Type:     "static",
		Doc:      "a fixed replica count (default: the workload's max_replicas)",
		Defaults: func() any { return DefaultStaticConfig() },
		Check: func(bc framework.BuildContext, cfg any) []error {
			return staticCfg(cfg).check(bc.Workload)
		},
		New: func(bc framework.BuildContext, cfg any) (framework.Policy, error) {
			return NewStatic(staticCfg(cfg), bc.Workload)
		},
	})
	r.RegisterPolicy(framework.Factory[framework.Policy]{
		Type:     "threshold",
		Doc:      "a step rule with upper/lower thresholds on one state feature and up/down cooldowns, like Nomad Autoscaler's threshold strategy",
		Defaults: func() any { return DefaultThresholdConfig() },
		Check: func(bc framework.BuildContext, cfg any) []error {
			c := thresholdCfg(cfg)
			if _, err := framework.LookupFeature(c.Feature); err != nil || len(bc.Features) == 0 {
				return nil // an unknown feature is reported by Validate
			}
			if err := c.checkFeatures(bc.Features); err != nil {
				return []error{err}
			}
			return nil
		},
		New: func(bc framework.BuildContext, cfg any) (framework.Policy, error) {
			return NewThreshold(thresholdCfg(cfg), bc.Workload)
		},
	})
	r.RegisterPolicy(framework.Factory[framework.Policy]{
		Type:     "kpa",
		Doc:      "a Knative-KPA-style concurrency autoscaler: stable and panic windows over per-pod in-flight requests",
		Defaults: func() any { return DefaultKPAConfig() },
		New: func(bc framework.BuildContext, cfg any) (framework.Policy, error) {
			return NewKPA(kpaCfg(cfg))
		},
	})
}

func staticCfg(cfg any) *StaticConfig {
	if c, ok := cfg.(*StaticConfig); ok && c != nil {
		return c
	}
	return DefaultStaticConfig()
}

func thresholdCfg(cfg any) *ThresholdConfig {
	if c, ok := cfg.(*ThresholdConfig); ok && c != nil {
		return c
	}
	return DefaultThresholdConfig()
}

func kpaCfg(cfg any) *KPAConfig {
	if c, ok := cfg.(*KPAConfig); ok && c != nil {
		return c
	}
	return DefaultKPAConfig()
}

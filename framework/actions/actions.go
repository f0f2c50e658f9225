package actions

import (
	"cmp"
	"fmt"

	"github.com/scalelab/scalelab/framework"
)

// Config type names of the action designs.
const (
	TypeReplicaDelta = "replica_delta"
	TypeReplicas     = "replicas"
	TypeHPATarget    = "hpa_target"
	TypeBatching     = "batching"
	TypeCPURequest   = "cpu_request"
)

// Register adds the factories of every action design to r.
func Register(r *framework.Registry) {
	r.RegisterAction(framework.Factory[framework.ActionDesign]{
		Type:     TypeReplicaDelta,
		Doc:      "change desired replicas by −max_step … +max_step (Discrete, 2·max_step+1 actions)",
		Defaults: func() any { c := DefaultReplicaDeltaConfig(); return &c },
		New: func(_ framework.BuildContext, cfg any) (framework.ActionDesign, error) {
			c, err := framework.ConfigAs(cfg, DefaultReplicaDeltaConfig)
			if err != nil {
				return nil, err
			}
			return NewReplicaDelta(c)
		},
	})
	r.RegisterAction(framework.Factory[framework.ActionDesign]{
		Type:     TypeReplicas,
		Doc:      "set the replica count directly within [min_replicas, max_replicas] (Box, or Discrete with discrete: true)",
		Defaults: func() any { c := DefaultReplicasConfig(); return &c },
		New: func(bc framework.BuildContext, cfg any) (framework.ActionDesign, error) {
			c, err := framework.ConfigAs(cfg, DefaultReplicasConfig)
			if err != nil {
				return nil, err
			}
			return NewReplicas(c, bc.Workload.MinReplicas, bc.Workload.MaxReplicas)
		},
	})
	r.RegisterAction(framework.Factory[framework.ActionDesign]{
		Type:     TypeHPATarget,
		Doc:      "choose the target CPU utilisation (percent) of an HPA that turns it into replicas (Discrete over targets)",
		Defaults: func() any { c := DefaultHPATargetConfig(); return &c },
		New: func(_ framework.BuildContext, cfg any) (framework.ActionDesign, error) {
			c, err := framework.ConfigAs(cfg, DefaultHPATargetConfig)
			if err != nil {
				return nil, err
			}
			return NewHPATarget(c)
		},
	})
	r.RegisterAction(framework.Factory[framework.ActionDesign]{
		Type:     TypeBatching,
		Doc:      "choose the serving batcher's max batch size and max queue delay (MultiDiscrete)",
		Defaults: func() any { c := DefaultBatchingConfig(); return &c },
		New: func(_ framework.BuildContext, cfg any) (framework.ActionDesign, error) {
			c, err := framework.ConfigAs(cfg, DefaultBatchingConfig)
			if err != nil {
				return nil, err
			}
			return NewBatching(c)
		},
	})
	r.RegisterAction(framework.Factory[framework.ActionDesign]{
		Type:     TypeCPURequest,
		Doc:      "choose the pods' CPU request in millicores (Discrete over cpu_requests_milli)",
		Defaults: func() any { c := DefaultCPURequestConfig(); return &c },
		New: func(_ framework.BuildContext, cfg any) (framework.ActionDesign, error) {
			c, err := framework.ConfigAs(cfg, DefaultCPURequestConfig)
			if err != nil {
				return nil, err
			}
			return NewCPURequest(c)
		},
	})
}

// checkIncreasing reports the problems of a list that must be non-empty, strictly increasing
// and have every element satisfy valid (key names the list in messages, want says what valid
// requires, format formats one element).
func checkIncreasing[T cmp.Ordered](key string, xs []T, valid func(T) bool, want string, format func(T) string) []error {
	if len(xs) == 0 {
		return []error{fmt.Errorf("%s: must not be empty", key)}
	}
	var errs []error
	for i, x := range xs {
		if !valid(x) {
			errs = append(errs, fmt.Errorf("%s[%d]: must be %s, got %s", key, i, want, format(x)))
		}
		if i > 0 && x <= xs[i-1] {
			errs = append(errs, fmt.Errorf("%s: must be strictly increasing, got %s after %s at index %d",
				key, format(x), format(xs[i-1]), i))
		}
	}
	return errs
}

// nearest returns the index of the option closest to v by dist; ties go to the lower index.
func nearest[T any](opts []T, dist func(T) float64) int {
	best, bestD := 0, dist(opts[0])
	for i := 1; i < len(opts); i++ {
		if d := dist(opts[i]); d < bestD {
			best, bestD = i, d
		}
	}
	return best
}

// discreteIndex checks a against a Discrete space and returns its index.
func discreteIndex(design string, space framework.ActionSpace, a framework.Action) (int, error) {
	if err := space.Contains(a); err != nil {
		return 0, fmt.Errorf("%s: %w", design, err)
	}
	return int(a.Values[0]), nil
}

// index returns an Action holding one discrete index.
func index(i int) framework.Action { return framework.Action{Values: []float64{float64(i)}} }

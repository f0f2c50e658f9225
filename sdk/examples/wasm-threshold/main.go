// Command wasm-threshold is an example WASM policy (ABI v1): a step rule on one feature,
// the Nomad Autoscaler threshold strategy. Above the upper bound it asks for one more
// replica, below the lower bound for one fewer, in between (or when the feature is
// missing) it holds. It acts in the replica_delta action design.
//
// Build it as a reactor module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o threshold.wasm .
//
// and use it in an experiment config (paths are relative to the config file):
//
//	policies:
//	  wasm-threshold:
//	    type: wasm
//	    module: threshold.wasm
//	    params: {feature: p95_latency_ms, upper: 40, lower: 15}
package main

import (
	"fmt"

	sdk "github.com/scalelab/scalelab/sdk/wasm"
)

// Params are the policy's settings (the config's params object).
type Params struct {
	// Feature is the observed feature the bounds apply to.
	Feature string `json:"feature"`
	// Upper: scale up when the feature is above it.
	Upper float64 `json:"upper"`
	// Lower: scale down when the feature is below it.
	Lower float64 `json:"lower"`
}

// Threshold is the policy.
type Threshold struct {
	p       Params
	feature int // index of the feature in the observation
	hold    float64
}

// Init checks the spec: the feature must be observed and the action design must be
// replica_delta (Discrete, index max_step means no change).
func (t *Threshold) Init(s sdk.Spec) error {
	t.p = Params{Feature: "p95_latency_ms", Upper: 40, Lower: 15}
	if err := s.DecodeParams(&t.p); err != nil {
		return err
	}
	if t.p.Lower > t.p.Upper {
		return fmt.Errorf("%w: lower %v is above upper %v", sdk.ErrInvalidArgument, t.p.Lower, t.p.Upper)
	}
	if t.feature = s.FeatureIndex(t.p.Feature); t.feature < 0 {
		return sdk.Unsupported(fmt.Sprintf("feature %q is not in the state design", t.p.Feature))
	}
	if s.ActionDesign != "replica_delta" || s.Action.Kind != sdk.KindDiscrete || s.Action.N < 3 {
		return sdk.Unsupported(fmt.Sprintf("acts in the replica_delta design (discrete, n ≥ 3), not %s %s", s.ActionDesign, s.Action.Kind))
	}
	t.hold = float64(s.Action.N / 2)
	return nil
}

// Act applies the step rule.
func (t *Threshold) Act(obs []float64, valid []bool, action []float64) error {
	action[0] = t.hold
	if !valid[t.feature] {
		return nil
	}
	switch v := obs[t.feature]; {
	case v > t.p.Upper:
		action[0] = t.hold + 1
	case v < t.p.Lower:
		action[0] = t.hold - 1
	}
	return nil
}

func init() { sdk.Register(&Threshold{}) }

func main() {}

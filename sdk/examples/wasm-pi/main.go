// Command wasm-pi is an example WASM policy (ABI v1): a proportional-integral controller
// that keeps one feature (by default the pods' CPU utilisation, at 0.6) at a target by
// moving the replica count. It keeps state between decisions and clears it at each episode
// start (Reset).
//
// The controller works in velocity (incremental) form on the relative error
// e_k = clamp((m_k − target)/target, ±max_error) of the measured feature m:
//
//	u_k = clamp(u_{k−1} + kp·(e_k − e_{k−1}) + ki·e_k, min_replicas, max_replicas)
//
// where u is a continuous replica target, initialised to the observed desired replicas at
// the first decision of an episode. Clamping u is the anti-windup: the integral action
// stops accumulating at the bounds. Clamping e keeps a burst (a latency ten times the
// target) from swinging u across the whole range and back when it passes. A controlled
// variable that changes smoothly with the replica count (CPU or GPU utilisation) suits
// this controller; on a tail latency, which jumps once the service saturates, it hunts. The action asks for round(u) replicas: in the
// replica_delta design as the change round(u) − desired limited to ±max_step, in the
// replicas design (Box) as the count itself. A missing measurement holds the replicas and
// leaves the controller's state unchanged.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o pi.wasm .
//
//	policies:
//	  wasm-pi:
//	    type: wasm
//	    module: pi.wasm
//	    params: {feature: cpu_util, target: 0.6, kp: 0.25, ki: 0.4, max_replicas: 4}
package main

import (
	"fmt"
	"math"

	sdk "github.com/scalelab/scalelab/sdk/wasm"
)

// Params are the controller's settings (the config's params object).
type Params struct {
	Feature string  `json:"feature"`
	Target  float64 `json:"target"`
	// Kp and Ki are the gains in replicas per unit of relative error.
	Kp float64 `json:"kp"`
	Ki float64 `json:"ki"`
	// MaxError bounds the relative error's magnitude.
	MaxError float64 `json:"max_error"`
	// MinReplicas and MaxReplicas bound u in the replica_delta design (the replicas
	// design uses its Box bounds).
	MinReplicas float64 `json:"min_replicas"`
	MaxReplicas float64 `json:"max_replicas"`
}

// PI is the controller.
type PI struct {
	p        Params
	feature  int // measured feature's index
	desired  int // replicas_desired's index
	delta    bool
	maxStep  float64
	lo, hi   float64
	started  bool
	u, prevE float64
}

// Init reads the params and the spec: the measured feature and replicas_desired must be
// observed; the design must be replica_delta or replicas (Box).
func (c *PI) Init(s sdk.Spec) error {
	c.p = Params{Feature: "cpu_util", Target: 0.6, Kp: 0.25, Ki: 0.4, MaxError: 1, MinReplicas: 1, MaxReplicas: 16}
	if err := s.DecodeParams(&c.p); err != nil {
		return err
	}
	if c.p.Target <= 0 {
		return fmt.Errorf("%w: target must be > 0, got %v", sdk.ErrInvalidArgument, c.p.Target)
	}
	if c.p.MaxError <= 0 {
		return fmt.Errorf("%w: max_error must be > 0, got %v", sdk.ErrInvalidArgument, c.p.MaxError)
	}
	if c.feature = s.FeatureIndex(c.p.Feature); c.feature < 0 {
		return sdk.Unsupported(fmt.Sprintf("feature %q is not in the state design", c.p.Feature))
	}
	if c.desired = s.FeatureIndex("replicas_desired"); c.desired < 0 {
		return sdk.Unsupported("the state design must include replicas_desired")
	}
	switch {
	case s.ActionDesign == "replica_delta" && s.Action.Kind == sdk.KindDiscrete:
		c.delta, c.maxStep = true, float64(s.Action.N/2)
		c.lo, c.hi = c.p.MinReplicas, c.p.MaxReplicas
	case s.ActionDesign == "replicas" && s.Action.Kind == sdk.KindBox:
		c.delta = false
		c.lo, c.hi = s.Action.Low[0], s.Action.High[0]
	default:
		return sdk.Unsupported(fmt.Sprintf("acts in replica_delta or replicas (box), not %s %s", s.ActionDesign, s.Action.Kind))
	}
	if c.lo > c.hi {
		return fmt.Errorf("%w: min_replicas %v above max_replicas %v", sdk.ErrInvalidArgument, c.lo, c.hi)
	}
	c.started = false
	return nil
}

// Reset forgets the controller state at an episode start.
func (c *PI) Reset() error {
	c.started = false
	return nil
}

// Act runs one controller step.
func (c *PI) Act(obs []float64, valid []bool, action []float64) error {
	cur := obs[c.desired]
	if !valid[c.desired] {
		return fmt.Errorf("replicas_desired is missing")
	}
	if !c.started {
		c.u, c.prevE, c.started = cur, 0, true
	}
	if valid[c.feature] {
		e := math.Min(math.Max((obs[c.feature]-c.p.Target)/c.p.Target, -c.p.MaxError), c.p.MaxError)
		c.u = math.Min(math.Max(c.u+c.p.Kp*(e-c.prevE)+c.p.Ki*e, c.lo), c.hi)
		c.prevE = e
	}
	want := math.Round(c.u)
	if c.delta {
		d := math.Min(math.Max(want-cur, -c.maxStep), c.maxStep)
		action[0] = d + c.maxStep
	} else {
		action[0] = want
	}
	return nil
}

func init() { sdk.Register(&PI{}) }

func main() {}

package framework

import (
	"context"
	"fmt"
	"math"
	"time"
)

// SpaceKind is the kind of an action space.
type SpaceKind string

// Action space kinds.
const (
	// Discrete: one integer in [0, N).
	Discrete SpaceKind = "discrete"
	// MultiDiscrete: one integer per dimension i in [0, Nvec[i]).
	MultiDiscrete SpaceKind = "multi_discrete"
	// Box: one real per dimension i in [Low[i], High[i]].
	Box SpaceKind = "box"
)

// ActionSpace describes the actions a design accepts.
type ActionSpace struct {
	Kind  SpaceKind `json:"kind"`
	N     int       `json:"n,omitempty"`
	Nvec  []int     `json:"nvec,omitempty"`
	Low   []float64 `json:"low,omitempty"`
	High  []float64 `json:"high,omitempty"`
	Names []string  `json:"names,omitempty"` // one name per dimension
}

// Dim returns the number of float64 values an action of this space carries.
func (s ActionSpace) Dim() int {
	switch s.Kind {
	case Discrete:
		return 1
	case MultiDiscrete:
		return len(s.Nvec)
	default:
		return len(s.Low)
	}
}

// Contains reports whether a is a valid member of the space: the right length, finite, and
// within bounds (integral for discrete kinds). The error says what is wrong.
func (s ActionSpace) Contains(a Action) error {
	if len(a.Values) != s.Dim() {
		return fmt.Errorf("action has %d values, space %s expects %d", len(a.Values), s.Kind, s.Dim())
	}
	if !Finite(a.Values) {
		return fmt.Errorf("action %v is not finite", a.Values)
	}
	switch s.Kind {
	case Discrete:
		v := a.Values[0]
		// Compare as float64: converting a huge value to int first would overflow.
		if v != math.Trunc(v) || v < 0 || v >= float64(s.N) {
			return fmt.Errorf("action %v outside discrete space [0,%d)", v, s.N)
		}
	case MultiDiscrete:
		for i, v := range a.Values {
			if v != math.Trunc(v) || v < 0 || v >= float64(s.Nvec[i]) {
				return fmt.Errorf("action[%d]=%v outside [0,%d)", i, v, s.Nvec[i])
			}
		}
	case Box:
		for i, v := range a.Values {
			if v < s.Low[i] || v > s.High[i] {
				return fmt.Errorf("action[%d]=%v outside [%v,%v]", i, v, s.Low[i], s.High[i])
			}
		}
	}
	return nil
}

// Action is a policy's output: float64 values interpreted by the action design (a discrete
// action is its integer index stored as a float64).
type Action struct {
	Values []float64 `json:"values"`
}

// Command is a backend-neutral request to change the workload, produced by an ActionDesign
// from an Action. Nil fields mean "leave unchanged". Guardrails act on Replicas.
type Command struct {
	Replicas        *int              `json:"replicas,omitempty"`
	HPATarget       *float64          `json:"hpa_target,omitempty"` // target CPU utilisation, percent
	Batching        *BatchingSettings `json:"batching,omitempty"`
	CPURequestMilli *int64            `json:"cpu_request_milli,omitempty"`
}

// Applied reports what an actuator really did.
type Applied struct {
	// Replicas is the replica target in force after the command (desired replicas).
	Replicas int `json:"replicas"`
	// Changed is true when the command changed anything.
	Changed bool `json:"changed"`
	// DryRun is true when the command was only validated and not carried out.
	DryRun bool `json:"dry_run"`
	// Note is a short human-readable account (e.g. "batching change takes effect at reload").
	Note string `json:"note,omitempty"`
}

// ActionDesign maps a policy's Action to a Command: replica delta, absolute replicas, HPA
// target utilisation, batching settings, CPU request. Designs are backend-neutral.
type ActionDesign interface {
	// Name is the design's config type name.
	Name() string
	// Space is the action space policies act in.
	Space() ActionSpace
	// Translate turns an action into a command given the current cluster view.
	Translate(a Action, view ClusterView) (Command, error)
	// Hold is the action that changes nothing given the view (used by the hold fallback
	// and as a safe default). ok is false when the design has no such action.
	Hold(view ClusterView) (a Action, ok bool)
}

// Actuator carries out commands on a backend (the simulator, or a cluster via client-go).
// The DESIGN's Actuator is the pair ActionDesign + Actuator: the design owns Space() and the
// action semantics so the same design runs unchanged on every backend.
type Actuator interface {
	Apply(ctx context.Context, c Command) (Applied, error)
}

// IntPtr returns a pointer to v (for Command fields).
func IntPtr(v int) *int { return &v }

// Float64Ptr returns a pointer to v (for Command fields).
func Float64Ptr(v float64) *float64 { return &v }

// Int64Ptr returns a pointer to v.
func Int64Ptr(v int64) *int64 { return &v }

// DurationPtr returns a pointer to v.
func DurationPtr(v time.Duration) *time.Duration { return &v }

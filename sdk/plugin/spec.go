package plugin

import (
	"errors"
	"fmt"
	"time"

	policyv1 "github.com/scalelab/scalelab/sdk/proto/policy/v1"
)

// Action space kinds, as in Spec.Action.Kind.
const (
	// KindDiscrete is one integer in [0, N), carried as one float64.
	KindDiscrete = "discrete"
	// KindMultiDiscrete is one integer per dimension i in [0, Nvec[i]).
	KindMultiDiscrete = "multi_discrete"
	// KindBox is one real per dimension i in [Low[i], High[i]].
	KindBox = "box"
)

// Feature describes one entry of the observation vector: a catalogue feature name
// (docs/features.md), its unit and a nominal range (Low and High are documentation and a
// scale for normalisation, not clamps: values may lie outside).
type Feature struct {
	Name        string
	Unit        string
	Description string
	Low         float64
	High        float64
}

// ActionSpace describes the actions the experiment's action design accepts. Dim is the
// number of float64 values Act must write.
type ActionSpace struct {
	Kind  string
	Dim   int
	N     int
	Nvec  []int
	Low   []float64
	High  []float64
	Names []string
}

// Spec is what the host tells a policy at Init: the features of the observation vector in
// order, the action space and the action design that interprets it, the decision interval,
// the run seed and the policy's name in the experiment config.
type Spec struct {
	// Features are the observation's features, in the order of Act's obs slice.
	Features []Feature
	// Action is the action space; Act writes Action.Dim values.
	Action ActionSpace
	// ActionDesign names the design that turns actions into changes, e.g. "replica_delta"
	// (Discrete N = 2·max_step+1: index i means a change of i − max_step), "replicas" (the
	// absolute count), "hpa_target", "batching", "cpu_request".
	ActionDesign string
	// IntervalSeconds is the decision interval: Act is called once per interval.
	IntervalSeconds float64
	// Seed is the run seed; derive any randomness from it so runs are reproducible.
	Seed uint64
	// PolicyName is the policy's name in the experiment config.
	PolicyName string
}

// FeatureIndex returns the position of the named feature in the observation, or −1.
func (s Spec) FeatureIndex(name string) int {
	for i, f := range s.Features {
		if f.Name == name {
			return i
		}
	}
	return -1
}

// Sentinel errors that select a gRPC status code other than Unknown (docs/policy-abi.md).
var (
	// ErrInvalidArgument reports input the policy cannot interpret (InvalidArgument).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrUnsupported reports a spec the policy does not support, e.g. an action space kind
	// it was not written for (Unimplemented).
	ErrUnsupported = errors.New("unsupported")
	// ErrNotInitialized reports a call before a successful Init (FailedPrecondition).
	ErrNotInitialized = errors.New("not initialized")
)

// Unsupported returns an error wrapping ErrUnsupported with the given reason.
func Unsupported(reason string) error { return fmt.Errorf("%w: %s", ErrUnsupported, reason) }

// SpecFromProto converts the wire form of the specs to a Spec and checks that it is
// self-consistent (known action kind, dim matching the kind's fields). Errors wrap
// ErrInvalidArgument.
func SpecFromProto(r *policyv1.InitRequest) (Spec, error) {
	s := Spec{
		ActionDesign:    r.GetActionDesign(),
		IntervalSeconds: time.Duration(r.GetIntervalNanos()).Seconds(),
		Seed:            r.GetSeed(),
		PolicyName:      r.GetPolicyName(),
	}
	for _, f := range r.GetFeatures() {
		s.Features = append(s.Features, Feature{Name: f.GetName(), Unit: f.GetUnit(), Description: f.GetDescription(),
			Low: f.GetLow(), High: f.GetHigh()})
	}
	a := r.GetAction()
	s.Action = ActionSpace{Kind: a.GetKind(), Dim: int(a.GetDim()), N: int(a.GetN()), Low: a.GetLow(), High: a.GetHigh(),
		Names: a.GetNames()}
	for _, n := range a.GetNvec() {
		s.Action.Nvec = append(s.Action.Nvec, int(n))
	}
	want := -1
	switch s.Action.Kind {
	case KindDiscrete:
		want = 1
		if s.Action.N < 1 {
			return Spec{}, fmt.Errorf("%w: discrete action space with n = %d", ErrInvalidArgument, s.Action.N)
		}
	case KindMultiDiscrete:
		want = len(s.Action.Nvec)
	case KindBox:
		want = len(s.Action.Low)
		if len(s.Action.High) != want {
			return Spec{}, fmt.Errorf("%w: box action space with %d low and %d high bounds", ErrInvalidArgument,
				len(s.Action.Low), len(s.Action.High))
		}
	default:
		return Spec{}, fmt.Errorf("%w: unknown action kind %q", ErrInvalidArgument, s.Action.Kind)
	}
	if s.Action.Dim != want {
		return Spec{}, fmt.Errorf("%w: action dim is %d, the %s space implies %d", ErrInvalidArgument, s.Action.Dim,
			s.Action.Kind, want)
	}
	return s, nil
}

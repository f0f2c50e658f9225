package wasm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ABIVersion is the version of the policy ABI this SDK implements. The host refuses a
// module whose scalelab_abi_version export returns another value.
const ABIVersion = 1

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
	Name        string  `json:"name"`
	Unit        string  `json:"unit"`
	Description string  `json:"description"`
	Low         float64 `json:"low"`
	High        float64 `json:"high"`
}

// ActionSpace describes the actions the experiment's action design accepts. Dim is the
// number of float64 values act must write.
type ActionSpace struct {
	Kind  string    `json:"kind"`
	Dim   int       `json:"dim"`
	N     int       `json:"n,omitempty"`
	Nvec  []int     `json:"nvec,omitempty"`
	Low   []float64 `json:"low,omitempty"`
	High  []float64 `json:"high,omitempty"`
	Names []string  `json:"names,omitempty"`
}

// Spec is what the host tells a policy at init: the features of the observation vector in
// order, the action space and the action design that interprets it, the decision
// interval and the run seed. It is the JSON document described in docs/policy-abi.md.
type Spec struct {
	ABIVersion int `json:"abi_version"`
	// Features are the observation's features, in the order of act's obs slice.
	Features []Feature `json:"features"`
	// Action is the action space; act writes Action.Dim values.
	Action ActionSpace `json:"action"`
	// ActionDesign names the design that turns actions into replica changes, e.g.
	// "replica_delta" (Discrete N = 2·max_step+1: index i means a change of i − max_step),
	// "replicas" (the absolute count), "hpa_target", "batching", "cpu_request".
	ActionDesign string `json:"action_design"`
	// IntervalSeconds is the decision interval: act is called once per interval.
	IntervalSeconds float64 `json:"interval_seconds"`
	// Seed is the run seed. WASI random_get is already seeded from it; guests without WASI
	// may seed their own generator from this value.
	Seed uint64 `json:"seed"`
	// Params is the policy entry's params object from the experiment config, verbatim
	// ({} when absent). DecodeParams reads it into a struct.
	Params json.RawMessage `json:"params"`
}

// DecodeParams decodes Params into v (a pointer to a struct whose fields carry defaults),
// rejecting keys v does not have, so a misspelt setting is an error rather than silently
// ignored.
func (s Spec) DecodeParams(v any) error {
	if len(s.Params) == 0 || string(s.Params) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(s.Params))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: params: %v", ErrInvalidArgument, err)
	}
	return nil
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

// ParseSpec decodes the spec document the host passes to init and checks that it is
// self-consistent (known action kind, Dim matching the kind's fields).
func ParseSpec(data []byte) (Spec, error) {
	var s Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return Spec{}, fmt.Errorf("%w: spec is not valid JSON: %v", ErrInvalidArgument, err)
	}
	if s.ABIVersion != ABIVersion {
		return Spec{}, fmt.Errorf("%w: spec abi_version is %d, this SDK implements %d", ErrInvalidArgument, s.ABIVersion, ABIVersion)
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
			return Spec{}, fmt.Errorf("%w: box action space with %d low and %d high bounds", ErrInvalidArgument, len(s.Action.Low), len(s.Action.High))
		}
	default:
		return Spec{}, fmt.Errorf("%w: unknown action kind %q", ErrInvalidArgument, s.Action.Kind)
	}
	if s.Action.Dim != want {
		return Spec{}, fmt.Errorf("%w: action dim is %d, the %s space implies %d", ErrInvalidArgument, s.Action.Dim, s.Action.Kind, want)
	}
	return s, nil
}

// Status codes returned by the exports (docs/policy-abi.md). A non-negative act result is
// the number of action values written.
const (
	StatusOK             int32 = 0
	StatusError          int32 = -1
	StatusInvalid        int32 = -2
	StatusNotInitialized int32 = -3
	StatusUnsupported    int32 = -4
)

// Sentinel errors that select a status code other than StatusError.
var (
	// ErrInvalidArgument reports input the policy cannot interpret (status −2).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrUnsupported reports a spec the policy does not support, e.g. an action space kind
	// it was not written for (status −4).
	ErrUnsupported = errors.New("unsupported")
	// ErrNotInitialized reports a call before a successful init (status −3).
	ErrNotInitialized = errors.New("not initialized")
)

// Unsupported returns an error wrapping ErrUnsupported with the given reason.
func Unsupported(reason string) error { return fmt.Errorf("%w: %s", ErrUnsupported, reason) }

// status maps an error to its status code.
func status(err error) int32 {
	switch {
	case err == nil:
		return StatusOK
	case errors.Is(err, ErrInvalidArgument):
		return StatusInvalid
	case errors.Is(err, ErrUnsupported):
		return StatusUnsupported
	case errors.Is(err, ErrNotInitialized):
		return StatusNotInitialized
	default:
		return StatusError
	}
}

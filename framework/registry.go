package framework

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"
)

// BuildContext is what a factory gets besides its own config.
type BuildContext struct {
	// Name is the component's name in config (the policy name, the reward term name).
	Name string
	// Backend is the built backend (for collectors and actuators); nil for others.
	Backend Backend
	// Features are the resolved state-design features (for collectors and policies).
	Features []FeatureSpec
	// State is the state section (window, max age) for collectors.
	State StateConfig
	// Workload holds the replica bounds.
	Workload WorkloadConfig
	// SLO is the service-level objective.
	SLO SLOConfig
	// Interval is the control interval.
	Interval time.Duration
	// Seed is the run seed (policies needing randomness derive from it).
	Seed uint64
	// BaseDir is the directory of the config file; relative paths resolve against it.
	BaseDir string
	// Raw is the component's subtree with keys case-preserved (for embedded Kubernetes
	// objects such as an HPA spec).
	Raw map[string]any
	// Registry lets a component build others (a fallback building an HPA).
	Registry *Registry
	// Logger is the run's structured logger.
	Logger *slog.Logger
}

// Factory builds one kind of component from its config.
type Factory[T any] struct {
	// Type is the config `type:` name.
	Type string
	// Doc is a one-line description for `--help` and docs.
	Doc string
	// Defaults returns a pointer to a config struct holding the defaults. The loader decodes
	// the component's keys strictly into it (mapstructure tags, snake_case) and, if the
	// struct has a `Validate() []error` or `Validate() error` method, calls it. Nil means the
	// component takes no keys.
	Defaults func() any
	// RawKeys are keys whose values are embedded Kubernetes objects: they are not decoded by
	// the loader (they keep camelCase) and reach the factory through BuildContext.Raw.
	RawKeys []string
	// New builds the component. cfg is the decoded struct from Defaults (or nil).
	New func(bc BuildContext, cfg any) (T, error)
	// Files returns the files the config references (traces, modules, binaries,
	// checkpoints), resolved against BaseDir; their digests enter the config hash. Optional.
	Files func(baseDir string, cfg any) []string
	// Check validates the component's config beyond its struct (e.g. the HPA spec, decoded
	// from Raw) at load time, so `scalelab validate` reports it. Optional.
	Check func(bc BuildContext, cfg any) []error
}

// RewardTerm is one reward term; the framework weights and sums terms.
type RewardTerm interface {
	// Value is the term's unweighted value over the step (a benefit is positive, a penalty
	// negative).
	Value(s StepInfo) float64
}

// Registry maps config type names to factories, one table per component kind. cmd/scalelab
// fills it; the framework never imports a component.
type Registry struct {
	Backends   map[string]Factory[Backend]
	Collectors map[string]Factory[Collector]
	Actuators  map[string]Factory[Actuator]
	Actions    map[string]Factory[ActionDesign]
	Rewards    map[string]Factory[RewardTerm]
	Policies   map[string]Factory[Policy]
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{
		Backends:   map[string]Factory[Backend]{},
		Collectors: map[string]Factory[Collector]{},
		Actuators:  map[string]Factory[Actuator]{},
		Actions:    map[string]Factory[ActionDesign]{},
		Rewards:    map[string]Factory[RewardTerm]{},
		Policies:   map[string]Factory[Policy]{},
	}
}

func register[T any](m map[string]Factory[T], kind string, f Factory[T]) {
	if f.Type == "" || f.New == nil {
		panic(fmt.Sprintf("framework: %s factory needs a Type and New", kind))
	}
	if _, dup := m[f.Type]; dup {
		panic(fmt.Sprintf("framework: %s %q registered twice", kind, f.Type))
	}
	m[f.Type] = f
}

// RegisterBackend adds a backend factory. It panics on a duplicate type (a programming error).
func (r *Registry) RegisterBackend(f Factory[Backend]) { register(r.Backends, "backend", f) }

// RegisterCollector adds a collector factory (its Type is the backend type it reads).
func (r *Registry) RegisterCollector(f Factory[Collector]) { register(r.Collectors, "collector", f) }

// RegisterActuator adds an actuator factory (its Type is the backend type it drives).
func (r *Registry) RegisterActuator(f Factory[Actuator]) { register(r.Actuators, "actuator", f) }

// RegisterAction adds an action design factory.
func (r *Registry) RegisterAction(f Factory[ActionDesign]) { register(r.Actions, "action", f) }

// RegisterReward adds a reward term factory.
func (r *Registry) RegisterReward(f Factory[RewardTerm]) { register(r.Rewards, "reward term", f) }

// RegisterPolicy adds a policy factory.
func (r *Registry) RegisterPolicy(f Factory[Policy]) { register(r.Policies, "policy", f) }

// Types returns the sorted type names of a factory table.
func Types[T any](m map[string]Factory[T]) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ConfigAs returns the component config a factory received as a T: the decoded *T from
// Factory.Defaults, a T, or the defaults when cfg is nil (a component built without a
// config section). Any other type is an error naming both types.
func ConfigAs[T any](cfg any, defaults func() T) (T, error) {
	switch c := cfg.(type) {
	case nil:
		return defaults(), nil
	case *T:
		if c == nil {
			return defaults(), nil
		}
		return *c, nil
	case T:
		return c, nil
	default:
		var zero T
		return zero, fmt.Errorf("config is %T, want %T", cfg, &zero)
	}
}

// ValidationError joins the problems a config's Validate method found into one error
// prefixed by the component (e.g. "reward term latency"), or returns nil when there are none.
func ValidationError(component string, errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %w", component, errors.Join(errs...))
}

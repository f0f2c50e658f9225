package experiments

import (
	"fmt"
	"log/slog"
	"sort"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/config"
	"github.com/scalelab/scalelab/framework/load"
)

// Builder wires components from a loaded config through the registry. Every call builds
// fresh instances, so runs never share state.
type Builder struct {
	Loaded   *config.Loaded
	Registry *framework.Registry
	Logger   *slog.Logger
}

// PolicyNames returns the configured policies: the baseline first, then by name.
func (b *Builder) PolicyNames() []string {
	cfg := b.Loaded.Config
	var names []string
	for n := range cfg.Policies {
		if n != cfg.Experiment.Baseline {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if _, ok := cfg.Policies[cfg.Experiment.Baseline]; ok {
		names = append([]string{cfg.Experiment.Baseline}, names...)
	}
	return names
}

// Profile returns the named load: a config-defined profile or a built-in one.
func (b *Builder) Profile(name string) (load.Load, error) {
	cfg := b.Loaded.Config
	l := load.Load{Name: name, Arrivals: load.Arrivals{Kind: load.ArrivalKind(cfg.Experiment.Arrivals), CV: cfg.Experiment.ArrivalCV}}
	if p, ok := b.Loaded.Profiles[name]; ok {
		l.Profile = p
		return l, nil
	}
	if p, ok := load.Builtin(name); ok {
		l.Profile = p
		return l, nil
	}
	return l, fmt.Errorf("unknown load profile %q", name)
}

// Episode returns the episode of a run.
func (b *Builder) Episode(l load.Load, seed uint64) framework.Episode {
	cfg := b.Loaded.Config
	return framework.Episode{
		Seed:            seed,
		Load:            l,
		InitialReplicas: cfg.Workload.InitialReplicas,
		Duration:        cfg.Experiment.Duration,
		SLO:             cfg.SLO.Latency,
		ClientTimeout:   cfg.SLO.ClientTimeout,
	}
}

func (b *Builder) context(name string, seed uint64) framework.BuildContext {
	cfg := b.Loaded.Config
	return framework.BuildContext{
		Name:     name,
		State:    cfg.State,
		Workload: cfg.Workload,
		SLO:      cfg.SLO,
		Interval: cfg.Experiment.ControlInterval,
		Seed:     seed,
		BaseDir:  b.Loaded.BaseDir,
		Registry: b.Registry,
		Logger:   b.logger(),
	}
}

func (b *Builder) logger() *slog.Logger {
	if b.Logger != nil {
		return b.Logger
	}
	return slog.Default()
}

// Features resolves a list of feature names against the catalogue.
func Features(names []string) ([]framework.FeatureSpec, error) {
	out := make([]framework.FeatureSpec, 0, len(names))
	for _, n := range names {
		f, err := framework.LookupFeature(n)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// Loop builds the complete loop for one policy and seed: backend, collector, action design,
// actuator, reward, policy, guardrails and fallback.
func (b *Builder) Loop(policyName string, seed uint64) (*framework.Loop, error) {
	cfg := b.Loaded.Config
	pc, ok := cfg.Policies[policyName]
	if !ok {
		return nil, fmt.Errorf("no policy %q in config", policyName)
	}
	names := cfg.State.Features
	if len(pc.Features) > 0 {
		names = pc.Features
	}
	feats, err := Features(names)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", policyName, err)
	}
	backend, err := b.Backend(seed)
	if err != nil {
		return nil, err
	}
	ok2 := false
	defer func() {
		if !ok2 {
			backend.Close()
		}
	}()
	bc := b.context(policyName, seed)
	bc.Backend = backend
	bc.Features = feats
	colF, found := b.Registry.Collectors[cfg.Backend.Type]
	if !found {
		return nil, fmt.Errorf("backend %q has no collector registered", cfg.Backend.Type)
	}
	col, err := colF.New(bc, orDefaults(b.Loaded.Components["collector"], colF.Defaults))
	if err != nil {
		return nil, fmt.Errorf("build collector: %w", err)
	}
	actF, found := b.Registry.Actuators[cfg.Backend.Type]
	if !found {
		return nil, fmt.Errorf("backend %q has no actuator registered", cfg.Backend.Type)
	}
	act, err := actF.New(bc, orDefaults(b.Loaded.Components["actuator"], actF.Defaults))
	if err != nil {
		return nil, fmt.Errorf("build actuator: %w", err)
	}
	pol, err := b.Policy(policyName, bc)
	if err != nil {
		return nil, err
	}
	defer func() {
		if c, ok := pol.(interface{ Close() error }); ok && !ok2 {
			c.Close()
		}
	}()
	// An actuator that runs a baseline natively (the cluster's own HPA on a real cluster)
	// takes the policy over; it then stands back from the policy's replica commands.
	if pb, ok := act.(framework.PolicyBinder); ok {
		if err := pb.BindPolicy(pol); err != nil {
			return nil, fmt.Errorf("policy %s: bind to the actuator: %w", policyName, err)
		}
	}
	design, err := b.Design(policyName, pol, bc)
	if err != nil {
		return nil, err
	}
	interval := cfg.Experiment.ControlInterval
	if p, ok := pol.(framework.Periodic); ok && p.Period() > 0 {
		interval = p.Period()
	}
	if in, ok := pol.(framework.Initializer); ok {
		if err := in.Init(framework.Specs{Features: feats, Action: design.Space(), ActionDesign: design.Name(), Interval: interval}); err != nil {
			return nil, fmt.Errorf("policy %s: init: %w", policyName, err)
		}
	}
	reward, err := b.Reward(bc)
	if err != nil {
		return nil, err
	}
	_, builtin := pol.(framework.Builtin)
	guard := &framework.Guardrails{Min: cfg.Workload.MinReplicas, Max: cfg.Workload.MaxReplicas, BoundsOnly: builtin}
	if !builtin {
		guard.MaxStep = cfg.Guardrails.MaxStep
		guard.UpCooldown = cfg.Guardrails.UpCooldown
		guard.DownCooldown = cfg.Guardrails.DownCooldown
		guard.DryRun = cfg.Guardrails.DryRun
	}
	fb, err := b.Fallback(bc)
	if err != nil {
		return nil, err
	}
	deadline := pc.Deadline
	if deadline == 0 {
		deadline = cfg.Fallback.Deadline
	}
	ok2 = true
	return &framework.Loop{
		Backend:     backend,
		Collector:   col,
		Design:      design,
		Actuator:    act,
		Reward:      reward,
		Policy:      pol,
		Fallback:    fb,
		Guard:       guard,
		Interval:    interval,
		Deadline:    deadline,
		MaxFailures: cfg.Fallback.MaxConsecutiveFailures,
		SLO:         cfg.SLO.Latency,
	}, nil
}

// Backend builds the configured backend.
func (b *Builder) Backend(seed uint64) (framework.Backend, error) {
	cfg := b.Loaded.Config
	f, ok := b.Registry.Backends[cfg.Backend.Type]
	if !ok {
		return nil, fmt.Errorf("backend.type: unknown backend %q", cfg.Backend.Type)
	}
	be, err := f.New(b.context("backend", seed), b.Loaded.Components["backend"])
	if err != nil {
		return nil, fmt.Errorf("build backend %s: %w", cfg.Backend.Type, err)
	}
	return be, nil
}

// Policy builds a configured policy.
func (b *Builder) Policy(name string, bc framework.BuildContext) (framework.Policy, error) {
	pc := b.Loaded.Config.Policies[name]
	f, ok := b.Registry.Policies[pc.Type]
	if !ok {
		return nil, fmt.Errorf("policies.%s.type: unknown policy type %q", name, pc.Type)
	}
	bc.Name = name
	bc.Raw = pc.Raw
	p, err := f.New(bc, b.Loaded.Components["policies."+name])
	if err != nil {
		return nil, fmt.Errorf("build policy %s (%s): %w", name, pc.Type, err)
	}
	return p, nil
}

// Design builds the action design a policy acts in: the one it requires (baselines), its own
// override, or the experiment's.
func (b *Builder) Design(policyName string, pol framework.Policy, bc framework.BuildContext) (framework.ActionDesign, error) {
	cfg := b.Loaded.Config
	typ := cfg.Action.Type
	comp := b.Loaded.Components["action"]
	if pc := cfg.Policies[policyName]; pc.Action != nil && pc.Action.Type != "" {
		typ = pc.Action.Type
		comp = b.Loaded.Components["policies."+policyName+".action"]
	}
	// A baseline that requires a design gets that design with its defaults, never the
	// experiment's settings for learners (e.g. a discrete replicas space).
	if r, ok := pol.(framework.ActionDesignRequirer); ok {
		typ = r.RequiredActionDesign()
		comp = nil
	}
	f, ok := b.Registry.Actions[typ]
	if !ok {
		return nil, fmt.Errorf("unknown action design %q", typ)
	}
	if comp == nil && f.Defaults != nil {
		comp = f.Defaults()
	}
	d, err := f.New(bc, comp)
	if err != nil {
		return nil, fmt.Errorf("build action design %s: %w", typ, err)
	}
	return d, nil
}

// Reward builds the weighted reward of the reward section (terms ordered by name).
func (b *Builder) Reward(bc framework.BuildContext) (*framework.WeightedReward, error) {
	cfg := b.Loaded.Config
	names := make([]string, 0, len(cfg.Reward.Terms))
	for n := range cfg.Reward.Terms {
		names = append(names, n)
	}
	sort.Strings(names)
	var terms []framework.WeightedTerm
	for _, n := range names {
		tc := cfg.Reward.Terms[n]
		typ := tc.Type
		if typ == "" {
			typ = n
		}
		f, ok := b.Registry.Rewards[typ]
		if !ok {
			return nil, fmt.Errorf("reward.terms.%s: unknown reward term %q", n, typ)
		}
		bc.Name = n
		t, err := f.New(bc, b.Loaded.Components["reward.terms."+n])
		if err != nil {
			return nil, fmt.Errorf("build reward term %s: %w", n, err)
		}
		terms = append(terms, framework.WeightedTerm{Name: n, Weight: b.Loaded.Weights[n], Term: t})
	}
	return framework.NewWeightedReward(terms), nil
}

// Fallback builds the configured fallback. `hpa` runs a shadow HPA: the experiment's own
// HPA policy config when one is configured (its spec and settings), else the HPA defaults
// bounded by the workload.
func (b *Builder) Fallback(bc framework.BuildContext) (framework.Fallback, error) {
	cfg := b.Loaded.Config
	switch cfg.Fallback.Type {
	case "", "hold":
		return framework.HoldFallback{}, nil
	}
	f, ok := b.Registry.Policies[cfg.Fallback.Type]
	if !ok {
		return nil, fmt.Errorf("fallback.type: unknown fallback %q (hold, or a replica policy type such as hpa)", cfg.Fallback.Type)
	}
	var comp any
	bc.Name = "fallback"
	bc.Raw = nil
	names := make([]string, 0)
	for n, pc := range cfg.Policies {
		if pc.Type == cfg.Fallback.Type {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if len(names) > 0 {
		comp = b.Loaded.Components["policies."+names[0]]
		bc.Raw = cfg.Policies[names[0]].Raw
	} else if f.Defaults != nil {
		comp = f.Defaults()
	}
	p, err := f.New(bc, comp)
	if err != nil {
		return nil, fmt.Errorf("build fallback %s: %w", cfg.Fallback.Type, err)
	}
	if r, ok := p.(framework.ActionDesignRequirer); !ok || r.RequiredActionDesign() != "replicas" {
		return nil, fmt.Errorf("fallback.type: %q does not output replicas", cfg.Fallback.Type)
	}
	if in, ok := p.(framework.Initializer); ok {
		if err := in.Init(framework.Specs{Features: bc.Features, Interval: bc.Interval}); err != nil {
			return nil, fmt.Errorf("fallback init: %w", err)
		}
	}
	return &framework.PolicyFallback{Policy: p, TypeName: cfg.Fallback.Type}, nil
}

func orDefaults(cfg any, defaults func() any) any {
	if cfg == nil && defaults != nil {
		return defaults()
	}
	return cfg
}

package experiments

import (
	"fmt"
	"time"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/load"
)

// EnvOptions configure training environments built from an experiment config.
type EnvOptions struct {
	// Policy is the name of the learning policy in config (its features and action
	// overrides apply); empty uses the experiment's state and action sections.
	Policy string
	// Profiles are the load profiles episodes cycle through (by env index and episode);
	// empty uses the experiment's profiles.
	Profiles []string
	// Duration is the episode length (0 = experiment.duration).
	Duration time.Duration
}

// NewEnv builds a training environment: the experiment's backend, collector, action design,
// actuator, reward, guardrails and fallback around no policy — the learner supplies the
// actions through Env.Step. Each Reset draws the episode's profile from opts.Profiles in
// turn (index-offset, so vectorised envs see different profiles at once).
func (b *Builder) NewEnv(opts EnvOptions, index int) (framework.Env, error) {
	cfg := b.Loaded.Config
	names := cfg.State.Features
	var actionComp any = b.Loaded.Components["action"]
	actionType := cfg.Action.Type
	if opts.Policy != "" {
		pc, ok := cfg.Policies[opts.Policy]
		if !ok {
			return nil, fmt.Errorf("no policy %q in config", opts.Policy)
		}
		if len(pc.Features) > 0 {
			names = pc.Features
		}
		if pc.Action != nil && pc.Action.Type != "" {
			actionType = pc.Action.Type
			actionComp = b.Loaded.Components["policies."+opts.Policy+".action"]
		}
	}
	feats, err := Features(names)
	if err != nil {
		return nil, err
	}
	profiles := opts.Profiles
	if len(profiles) == 0 {
		profiles = cfg.Experiment.Profiles
	}
	loads := make([]load.Load, len(profiles))
	for i, p := range profiles {
		if loads[i], err = b.Profile(p); err != nil {
			return nil, err
		}
	}
	dur := opts.Duration
	if dur == 0 {
		dur = cfg.Experiment.Duration
	}
	backend, err := b.Backend(0)
	if err != nil {
		return nil, err
	}
	bc := b.context("env", 0)
	bc.Backend = backend
	bc.Features = feats
	col, err := b.Registry.Collectors[cfg.Backend.Type].New(bc, orDefaults(b.Loaded.Components["collector"], b.Registry.Collectors[cfg.Backend.Type].Defaults))
	if err != nil {
		backend.Close()
		return nil, fmt.Errorf("build collector: %w", err)
	}
	actF := b.Registry.Actuators[cfg.Backend.Type]
	act, err := actF.New(bc, orDefaults(b.Loaded.Components["actuator"], actF.Defaults))
	if err != nil {
		backend.Close()
		return nil, fmt.Errorf("build actuator: %w", err)
	}
	df, ok := b.Registry.Actions[actionType]
	if !ok {
		backend.Close()
		return nil, fmt.Errorf("unknown action design %q", actionType)
	}
	design, err := df.New(bc, orDefaults(actionComp, df.Defaults))
	if err != nil {
		backend.Close()
		return nil, fmt.Errorf("build action design: %w", err)
	}
	reward, err := b.Reward(bc)
	if err != nil {
		backend.Close()
		return nil, err
	}
	fb, err := b.Fallback(bc)
	if err != nil {
		backend.Close()
		return nil, err
	}
	loop := &framework.Loop{
		Backend: backend, Collector: col, Design: design, Actuator: act, Reward: reward, Fallback: fb,
		Guard: &framework.Guardrails{Min: cfg.Workload.MinReplicas, Max: cfg.Workload.MaxReplicas,
			MaxStep: cfg.Guardrails.MaxStep, UpCooldown: cfg.Guardrails.UpCooldown, DownCooldown: cfg.Guardrails.DownCooldown},
		Interval: cfg.Experiment.ControlInterval,
		SLO:      cfg.SLO.Latency,
	}
	episode := 0
	return &framework.LoopEnv{
		Loop: loop,
		Episode: func(seed uint64) framework.Episode {
			l := loads[(index+episode)%len(loads)]
			episode++
			return b.Episode(l, seed)
		},
		Duration: dur,
		EnvSpecs: framework.Specs{Features: feats, Action: design.Space(), ActionDesign: design.Name(), Interval: cfg.Experiment.ControlInterval},
	}, nil
}

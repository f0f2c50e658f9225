package experiments

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/config"
)

// TrainedReporter is implemented by learning policies that can tell whether they already
// hold a trained model (for example one loaded from a configured checkpoint). Policies that
// implement framework.Trainer but not TrainedReporter are treated as untrained.
type TrainedReporter interface {
	Trained() bool
}

// MonitoringKeyser is implemented by policy config structs (the decoded value a policy
// factory receives) whose sections hold keys that, as configured, only monitor training —
// convergence signals, validations that select nothing — and do not change the trained
// model. TrainHash leaves those keys out, so watching a training more closely does not
// make its checkpoint stale. Paths are relative to the policy's section.
type MonitoringKeyser interface {
	MonitoringKeys() []string
}

// ConfigHashSetter is implemented by learners that record the hash of the config they were
// trained from in their checkpoints; TrainPolicy passes the training hash.
type ConfigHashSetter interface {
	SetConfigHash(hash string)
}

// BuildPolicy builds the named policy of the config as a run would (seed 0), for
// inspection or training. The caller closes it if it implements io.Closer.
func (b *Builder) BuildPolicy(name string) (framework.Policy, error) {
	pc, ok := b.Loaded.Config.Policies[name]
	if !ok {
		return nil, fmt.Errorf("no policy %q in config", name)
	}
	names := b.Loaded.Config.State.Features
	if len(pc.Features) > 0 {
		names = pc.Features
	}
	feats, err := Features(names)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", name, err)
	}
	bc := b.context(name, 0)
	bc.Features = feats
	return b.Policy(name, bc)
}

// Learner reports whether the named policy learns (its built instance implements
// framework.Trainer) and, if it does, whether it already holds a trained model
// (TrainedReporter). Baselines report (false, false).
func (b *Builder) Learner(name string) (learns, trained bool, err error) {
	p, err := b.BuildPolicy(name)
	if err != nil {
		return false, false, err
	}
	defer closePolicy(p)
	if _, ok := p.(framework.Trainer); !ok {
		return false, false, nil
	}
	if r, ok := p.(TrainedReporter); ok {
		trained = r.Trained()
	}
	return true, trained, nil
}

// TrainHash identifies everything that determines the training of one policy: the resolved
// config without the keys that only select, place or measure evaluation runs
// (experiment.name, out, workers, repetitions, baseline, warmup), without the other
// policies and without the extra key paths in omit (such as the key naming the checkpoint
// the training writes), plus the digests of the referenced files except those that the
// omitted keys name (the checkpoint is the training's output, not its input). Training
// environments cycle through experiment.profiles for experiment.duration per episode, and
// their seeds derive from experiment.seed, so those keys are part of the hash. Keys of the
// policy that only monitor training (MonitoringKeyser) are left out too.
func (b *Builder) TrainHash(policy string, omit ...string) (string, error) {
	keys := []string{"experiment.name", "experiment.out", "experiment.workers", "experiment.repetitions",
		"experiment.baseline", "experiment.warmup"}
	names := make([]string, 0, len(b.Loaded.Config.Policies))
	for n := range b.Loaded.Config.Policies {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if n != policy {
			keys = append(keys, "policies."+n)
		}
	}
	keys = append(keys, omit...)
	if mk, ok := b.Loaded.Components["policies."+policy].(MonitoringKeyser); ok {
		for _, k := range mk.MonitoringKeys() {
			keys = append(keys, "policies."+policy+"."+k)
		}
	}
	outputs := map[string]bool{}
	for _, k := range omit {
		if v, ok := lookup(b.Loaded.Resolved, k).(string); ok && v != "" {
			if !filepath.IsAbs(v) {
				v = filepath.Join(b.Loaded.BaseDir, v)
			}
			outputs[filepath.Clean(v)] = true
		}
	}
	var files []config.FileDigest
	for _, f := range b.Loaded.Files {
		if !outputs[filepath.Clean(f.Abs)] {
			files = append(files, f)
		}
	}
	return config.HashOf(b.Loaded.Resolved, files, keys)
}

// lookup returns the value at a dotted key path of a resolved config (nil if absent).
func lookup(m map[string]any, key string) any {
	var cur any = m
	for _, seg := range strings.Split(key, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[seg]
	}
	return cur
}

// trainEnv maps the episode seeds a trainer asks for into the training seed stream.
type trainEnv struct {
	framework.Env
	experimentSeed uint64
}

// Reset starts an episode under TrainSeed(experiment seed, seed).
func (e trainEnv) Reset(ctx context.Context, seed uint64) (framework.Observation, error) {
	return e.Env.Reset(ctx, TrainSeed(e.experimentSeed, int(seed)))
}

// TrainEnvFactory returns the environment factory a framework.Trainer trains on: NewEnv's
// environments whose episode seeds are mapped through TrainSeed of the experiment seed.
// Whatever seeds a trainer draws (PPO resets environment e with seed+e), no training
// episode runs under an evaluation seed, and the mapping is a bijection, so distinct
// trainer seeds stay distinct episodes.
func (b *Builder) TrainEnvFactory(opts EnvOptions) func(index int, seed uint64) (framework.Env, error) {
	expSeed := b.Loaded.Config.Experiment.Seed
	return func(index int, _ uint64) (framework.Env, error) {
		env, err := b.NewEnv(opts, index)
		if err != nil {
			return nil, err
		}
		return trainEnv{Env: env, experimentSeed: expSeed}, nil
	}
}

// validationEnv maps the episode seeds a trainer asks for into the validation seed stream.
type validationEnv struct {
	framework.Env
	experimentSeed uint64
}

// Reset starts validation episode seed under ValidationSeed(experiment seed, seed).
func (e validationEnv) Reset(ctx context.Context, seed uint64) (framework.Observation, error) {
	return e.Env.Reset(ctx, ValidationSeed(e.experimentSeed, int(seed)))
}

// ValidationEnvFactory returns the factory of a trainer's validation environments
// (framework.ValidationSetter): validation episode k runs load profile profiles[k mod
// len(profiles)] (the experiment's profiles when profiles is empty) under the episode
// seed ValidationSeed(experiment seed, k), whatever the trainer passes, so every
// validation replays the same held-out scenarios, none of them a training or an
// evaluation episode. opts.Profiles is ignored. Unknown profile names are an error here,
// before any training.
func (b *Builder) ValidationEnvFactory(opts EnvOptions, profiles []string) (func(index int, seed uint64) (framework.Env, error), error) {
	if len(profiles) == 0 {
		profiles = b.Loaded.Config.Experiment.Profiles
	}
	if len(profiles) == 0 {
		return nil, fmt.Errorf("validation: no load profiles (set the policy's validation.profiles or experiment.profiles)")
	}
	for _, p := range profiles {
		if _, err := b.Profile(p); err != nil {
			return nil, fmt.Errorf("validation profile %q: %w", p, err)
		}
	}
	profiles = append([]string(nil), profiles...)
	expSeed := b.Loaded.Config.Experiment.Seed
	return func(index int, _ uint64) (framework.Env, error) {
		o := opts
		o.Profiles = []string{profiles[index%len(profiles)]}
		env, err := b.NewEnv(o, index)
		if err != nil {
			return nil, err
		}
		return validationEnv{Env: env, experimentSeed: expSeed}, nil
	}, nil
}

// TrainPolicy builds the named policy and trains it through framework.Trainer on
// TrainEnvFactory's environments, writing the trainer's files into outDir. hash, when not
// empty, is passed to learners that record it (ConfigHashSetter). Learners that validate
// periodically (framework.ValidationSetter) get ValidationEnvFactory's environments on
// the profiles they name. Training budget and hyper-parameters are the policy's own
// config.
func (b *Builder) TrainPolicy(ctx context.Context, name, outDir, hash string, progress func(framework.TrainProgress)) error {
	p, err := b.BuildPolicy(name)
	if err != nil {
		return err
	}
	defer closePolicy(p)
	tr, ok := p.(framework.Trainer)
	if !ok {
		return fmt.Errorf("policy %s (%s) does not learn: it does not implement framework.Trainer", name, b.Loaded.Config.Policies[name].Type)
	}
	if hs, ok := p.(ConfigHashSetter); ok && hash != "" {
		hs.SetConfigHash(hash)
	}
	factory := b.TrainEnvFactory(EnvOptions{Policy: name})
	if vs, ok := p.(framework.ValidationSetter); ok {
		vf, err := b.ValidationEnvFactory(EnvOptions{Policy: name}, vs.ValidationProfiles())
		if err != nil {
			return fmt.Errorf("policy %s: %w", name, err)
		}
		vs.SetValidation(vf)
	}
	if in, ok := p.(framework.Initializer); ok {
		env, err := factory(0, 0)
		if err != nil {
			return fmt.Errorf("policy %s: training environment: %w", name, err)
		}
		specs := env.Specs()
		if err := env.Close(); err != nil {
			return fmt.Errorf("policy %s: close training environment: %w", name, err)
		}
		if err := in.Init(specs); err != nil {
			return fmt.Errorf("policy %s: init: %w", name, err)
		}
	}
	if progress == nil {
		progress = func(framework.TrainProgress) {}
	}
	if err := tr.Train(ctx, factory, outDir, progress); err != nil {
		return fmt.Errorf("train policy %s: %w", name, err)
	}
	return nil
}

func closePolicy(p framework.Policy) {
	if c, ok := p.(interface{ Close() error }); ok {
		_ = c.Close()
	}
}

// ErrTrainingMissing marks a run whose learning policy has not been trained yet.
var ErrTrainingMissing = errors.New("training not finished")

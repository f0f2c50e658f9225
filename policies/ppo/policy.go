package ppo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/scalelab/scalelab/framework"
)

// Type is the policy's config type name.
const Type = "ppo"

// ErrNoCheckpoint is returned by Act when the policy has no trained network: its
// checkpoint is not configured or does not exist yet, and it has not been trained.
var ErrNoCheckpoint = errors.New("ppo: no trained network (checkpoint missing; train first)")

// Policy is the PPO agent: it acts deterministically (argmax or mean action) with the
// network of its checkpoint, and trains (framework.Trainer), after which it acts with the
// trained network.
type Policy struct {
	mu         sync.Mutex
	cfg        Config
	ckptPath   string // resolved; empty when not configured
	ckpt       *Checkpoint
	model      *model
	specs      *framework.Specs
	configHash string
	logger     *slog.Logger
	// valEnv builds validation environments (SetValidation); nil when none were given.
	valEnv func(index int, seed uint64) (framework.Env, error)
}

var (
	_ framework.Policy           = (*Policy)(nil)
	_ framework.Initializer      = (*Policy)(nil)
	_ framework.Trainer          = (*Policy)(nil)
	_ framework.ValidationSetter = (*Policy)(nil)
)

// Register adds the `ppo` policy factory to r.
func Register(r *framework.Registry) {
	r.RegisterPolicy(framework.Factory[framework.Policy]{
		Type:     Type,
		Doc:      "PPO (CleanRL's ppo.py, native Go): acts deterministically with the network of `checkpoint`; trains with `scalelab train`",
		Defaults: func() any { c := DefaultConfig(); return &c },
		New: func(bc framework.BuildContext, cfg any) (framework.Policy, error) {
			c, ok := cfg.(*Config)
			if !ok || c == nil {
				return nil, fmt.Errorf("ppo: config is %T, want *ppo.Config", cfg)
			}
			p, err := NewPolicy(*c, bc.BaseDir)
			if err != nil {
				return nil, err
			}
			if bc.Logger != nil {
				p.logger = bc.Logger
			}
			return p, nil
		},
		Files: func(baseDir string, cfg any) []string {
			c, ok := cfg.(*Config)
			if !ok || c == nil || c.Checkpoint == "" {
				return nil
			}
			// A checkpoint that does not exist yet (to be trained) is not referenced.
			path := resolve(baseDir, c.Checkpoint)
			if _, err := os.Stat(path); err != nil {
				return nil
			}
			return []string{path}
		},
	})
}

func resolve(baseDir, path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(baseDir, path)
}

// NewPolicy builds the policy from its config; cfg.Checkpoint resolves against baseDir.
// When that file exists it is loaded (a corrupt or incompatible file is an error); when it
// does not, the policy is untrained until Train runs (Act returns ErrNoCheckpoint).
func NewPolicy(cfg Config, baseDir string) (*Policy, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("ppo config: %w", errors.Join(errs...))
	}
	p := &Policy{cfg: cfg, ckptPath: resolve(baseDir, cfg.Checkpoint), logger: slog.Default()}
	if p.ckptPath != "" {
		if _, err := os.Stat(p.ckptPath); err == nil {
			if err := p.Load(p.ckptPath); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

// Load replaces the policy's network with a checkpoint's.
func (p *Policy) Load(path string) error {
	c, err := ReadCheckpoint(path)
	if err != nil {
		return err
	}
	return p.adopt(c, path)
}

func (p *Policy) adopt(c *Checkpoint, where string) error {
	m, err := c.model()
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", where, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.specs != nil {
		if err := specsMatch(c.Specs, *p.specs); err != nil {
			return fmt.Errorf("checkpoint %s: %w", where, err)
		}
	}
	p.ckpt, p.model = c, m
	return nil
}

// Trained reports whether the policy has a network to act with.
func (p *Policy) Trained() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.model != nil
}

// Checkpoint returns the loaded or trained checkpoint (nil when untrained). Callers must
// not modify it.
func (p *Policy) Checkpoint() *Checkpoint {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ckpt
}

// CheckpointPath is the configured checkpoint file, resolved (empty when not configured).
func (p *Policy) CheckpointPath() string { return p.ckptPath }

// Config returns the policy's configuration.
func (p *Policy) Config() Config { return p.cfg }

// SetConfigHash sets the hash Train records in checkpoints (the whole experiment
// config's); by default Train records Config.Hash().
func (p *Policy) SetConfigHash(h string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.configHash = h
}

// ValidationProfiles returns the configured validation.profiles (empty: the caller's
// default, an experiment's profiles).
func (p *Policy) ValidationProfiles() []string { return slices.Clone(p.cfg.Validation.Profiles) }

// SetValidation sets the factory of the validation environments Train evaluates on every
// validation.every iterations (see framework.ValidationSetter).
func (p *Policy) SetValidation(newEnv func(index int, seed uint64) (framework.Env, error)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.valEnv = newEnv
}

// Init records the state and action design; with a checkpoint loaded they must match it
// (feature names in order and the action space), otherwise the error wraps
// ErrSpecsMismatch and says what differs.
func (p *Policy) Init(s framework.Specs) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ckpt != nil {
		if err := specsMatch(p.ckpt.Specs, s); err != nil {
			return fmt.Errorf("ppo checkpoint %s: %w", p.ckptPath, err)
		}
	}
	p.specs = &s
	return nil
}

// Act returns the deterministic action for obs: the argmax per discrete dimension, or the
// Gaussian mean clipped to the bounds. Missing values (see the package documentation) are
// fed as 0.
func (p *Policy) Act(_ context.Context, obs framework.Observation) (framework.Action, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.model == nil {
		if p.ckptPath != "" {
			return framework.Action{}, fmt.Errorf("%w: %s", ErrNoCheckpoint, p.ckptPath)
		}
		return framework.Action{}, ErrNoCheckpoint
	}
	return p.model.act(obs)
}

// Train trains on environments from newEnv for the configured budget (or until a stop
// criterion of the convergence section), writes the files described in the package
// documentation into outDir (and the selected checkpoint — validation.select — to the
// configured checkpoint path, when set) and then acts with that network. With
// validation.every > 0 it needs SetValidation first.
func (p *Policy) Train(ctx context.Context, newEnv func(index int, seed uint64) (framework.Env, error), outDir string, progress func(framework.TrainProgress)) error {
	_, err := p.TrainResult(ctx, newEnv, outDir, progress)
	return err
}

// TrainResult is Train returning the run's summary and final checkpoint.
func (p *Policy) TrainResult(ctx context.Context, newEnv func(index int, seed uint64) (framework.Env, error), outDir string, progress func(framework.TrainProgress)) (*Result, error) {
	p.mu.Lock()
	opts := TrainOptions{ConfigHash: p.configHash, Specs: p.specs, CheckpointPath: p.ckptPath, Logger: p.logger, ValidationEnv: p.valEnv}
	p.mu.Unlock()
	res, err := Train(ctx, p.cfg, opts, newEnv, outDir, progress)
	if err != nil {
		return nil, err
	}
	if err := p.adopt(res.Checkpoint, filepath.Join(outDir, CheckpointFile)); err != nil {
		return nil, err
	}
	return res, nil
}

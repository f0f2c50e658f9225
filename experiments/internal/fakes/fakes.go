// Package fakes provides fake components for the tests of the experiments packages: a
// deterministic backend with its collector and actuator (framework/frameworktest), a
// replicas action design, a cost reward term, a fixed-replicas policy and a minimal
// learning policy that implements framework.Trainer.
package fakes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/frameworktest"
)

// FixedConfig configures the "fixed" policy.
type FixedConfig struct {
	Replicas int  `mapstructure:"replicas" doc:"replicas" default:"1"`
	Fail     bool `mapstructure:"fail" doc:"fail to build" default:"false"`
}

// LearnerConfig configures the "learner" policy.
type LearnerConfig struct {
	Target     int    `mapstructure:"target" doc:"replicas the training learns" default:"3"`
	Checkpoint string `mapstructure:"checkpoint" doc:"checkpoint file" default:""`
	FailTrain  bool   `mapstructure:"fail_train" doc:"fail training" default:"false"`
}

// Record records what the fake components saw.
type Record struct {
	mu sync.Mutex
	// Trainings counts Train calls.
	Trainings int
	// TrainSeeds are the episode seeds of training environments, EvalSeeds those of
	// evaluation runs.
	TrainSeeds, EvalSeeds []uint64
	// Built counts fixed policies built.
	Built int
}

// seedBackend records the seed of every episode.
type seedBackend struct {
	*frameworktest.Backend
	record func(uint64)
}

// Reset records the episode's seed and resets the fake backend.
func (b seedBackend) Reset(ctx context.Context, ep framework.Episode) error {
	b.record(ep.Seed)
	return b.Backend.Reset(ctx, ep)
}

// learner is a minimal learning policy: Train runs three steps of one training episode and
// writes checkpoint.json {"replicas": target}; with a checkpoint it acts with those
// replicas, without one it errors.
type learner struct {
	hash     string // training hash of the loaded checkpoint, or the one to stamp
	cfg      LearnerConfig
	path     string
	replicas int
	f        *Record
}

var (
	_ framework.Policy  = (*learner)(nil)
	_ framework.Trainer = (*learner)(nil)
)

// SetConfigHash sets the training hash Train stamps into the checkpoint.
func (l *learner) SetConfigHash(h string) { l.hash = h }

// TrainedHash is the training hash stamped in the loaded checkpoint ("" when untrained).
func (l *learner) TrainedHash() string {
	if l.replicas == 0 {
		return ""
	}
	return l.hash
}

// Trained reports whether the learner holds a checkpoint.
func (l *learner) Trained() bool { return l.replicas > 0 }

// Act returns the checkpoint's replicas.
func (l *learner) Act(context.Context, framework.Observation) (framework.Action, error) {
	if l.replicas == 0 {
		return framework.Action{}, errors.New("untrained")
	}
	return framework.Action{Values: []float64{float64(l.replicas)}}, nil
}

// Train runs two short episodes and writes episodes.csv, iterations.csv and
// checkpoint.json into out.
func (l *learner) Train(ctx context.Context, newEnv func(int, uint64) (framework.Env, error), out string, _ func(framework.TrainProgress)) error {
	l.f.mu.Lock()
	l.f.Trainings++
	l.f.mu.Unlock()
	if l.cfg.FailTrain {
		return errors.New("deliberate training failure")
	}
	env, err := newEnv(0, 1)
	if err != nil {
		return err
	}
	defer env.Close()
	episodes := "global_step,env_index,raw_return,length\n"
	step := 0
	for _, seed := range []uint64{1, 2} {
		if _, err := env.Reset(ctx, seed); err != nil {
			return err
		}
		ret := 0.0
		for i := 0; i < 3; i++ {
			r, err := env.Step(ctx, framework.Action{Values: []float64{2}})
			if err != nil {
				return err
			}
			ret += r.Reward
			step++
		}
		episodes += fmt.Sprintf("%d,0,%g,3\n", step, ret)
	}
	if err := os.WriteFile(filepath.Join(out, "episodes.csv"), []byte(episodes), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "iterations.csv"), []byte(fmt.Sprintf("iteration,global_step,entropy\n1,%d,0.5\n", step)), 0o644); err != nil {
		return err
	}
	b, _ := json.Marshal(map[string]any{"replicas": l.cfg.Target, "hash": l.hash})
	if err := os.WriteFile(filepath.Join(out, "checkpoint.json"), b, 0o644); err != nil {
		return err
	}
	l.replicas = l.cfg.Target
	return nil
}

func (l *learner) load() error {
	b, err := os.ReadFile(l.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var c struct {
		Replicas int    `json:"replicas"`
		Hash     string `json:"hash"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return fmt.Errorf("checkpoint %s: %w", l.path, err)
	}
	l.replicas, l.hash = c.Replicas, c.Hash
	return nil
}

func unwrap(b framework.Backend) *frameworktest.Backend {
	if s, ok := b.(seedBackend); ok {
		return s.Backend
	}
	return b.(*frameworktest.Backend)
}

// Registry registers the fake components, recording into f: backend, collector and
// actuator "fake" (arrivals every 100 ms, 20 ms latency plus up to 30 ms of seeded
// jitter), action design "replicas", reward term "cost" (−replicas), policies "fixed"
// (keys replicas, fail) and "learner" (keys target, checkpoint, fail_train).
func Registry(f *Record) *framework.Registry {
	r := framework.NewRegistry()
	r.RegisterBackend(framework.Factory[framework.Backend]{Type: "fake", New: func(bc framework.BuildContext, _ any) (framework.Backend, error) {
		be := &frameworktest.Backend{ArrivalEvery: 100 * time.Millisecond, Latency: 20 * time.Millisecond, Jitter: 30 * time.Millisecond,
			CPUPerReplica: 0.5, CPURequestPerReplica: 1, GPUBusyPerReplica: 0.2}
		return seedBackend{Backend: be, record: func(s uint64) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if bc.Seed == 0 { // NewEnv builds its backend with seed 0
				f.TrainSeeds = append(f.TrainSeeds, s)
			} else {
				f.EvalSeeds = append(f.EvalSeeds, s)
			}
		}}, nil
	}})
	r.RegisterCollector(framework.Factory[framework.Collector]{Type: "fake", New: func(bc framework.BuildContext, _ any) (framework.Collector, error) {
		return &frameworktest.Collector{Backend: unwrap(bc.Backend), MinReplicas: bc.Workload.MinReplicas, MaxReplicas: bc.Workload.MaxReplicas}, nil
	}})
	r.RegisterActuator(framework.Factory[framework.Actuator]{Type: "fake", New: func(bc framework.BuildContext, _ any) (framework.Actuator, error) {
		return &frameworktest.Actuator{Backend: unwrap(bc.Backend)}, nil
	}})
	r.RegisterAction(framework.Factory[framework.ActionDesign]{Type: "replicas", New: func(bc framework.BuildContext, _ any) (framework.ActionDesign, error) {
		return frameworktest.ReplicasDesign{Min: bc.Workload.MinReplicas, Max: bc.Workload.MaxReplicas}, nil
	}})
	r.RegisterReward(framework.Factory[framework.RewardTerm]{Type: "cost", New: func(framework.BuildContext, any) (framework.RewardTerm, error) {
		return frameworktest.RewardTermFunc(func(s framework.StepInfo) float64 { return -float64(s.Applied.Replicas) }), nil
	}})
	r.RegisterPolicy(framework.Factory[framework.Policy]{Type: "fixed",
		Defaults: func() any { return &FixedConfig{Replicas: 1} },
		New: func(_ framework.BuildContext, cfg any) (framework.Policy, error) {
			c := cfg.(*FixedConfig)
			if c.Fail {
				return nil, errors.New("deliberate build failure")
			}
			f.mu.Lock()
			f.Built++
			f.mu.Unlock()
			return frameworktest.Replicas(float64(c.Replicas)), nil
		}})
	r.RegisterPolicy(framework.Factory[framework.Policy]{Type: "learner",
		Defaults: func() any { return &LearnerConfig{Target: 3} },
		New: func(bc framework.BuildContext, cfg any) (framework.Policy, error) {
			c := cfg.(*LearnerConfig)
			l := &learner{cfg: *c, f: f}
			if c.Checkpoint != "" {
				l.path = c.Checkpoint
				if !filepath.IsAbs(l.path) {
					l.path = filepath.Join(bc.BaseDir, l.path)
				}
				if err := l.load(); err != nil {
					return nil, err
				}
			}
			return l, nil
		},
		Files: func(baseDir string, cfg any) []string {
			c := cfg.(*LearnerConfig)
			if c.Checkpoint == "" {
				return nil
			}
			p := c.Checkpoint
			if !filepath.IsAbs(p) {
				p = filepath.Join(baseDir, p)
			}
			if _, err := os.Stat(p); err != nil {
				return nil
			}
			return []string{p}
		}})
	return r
}

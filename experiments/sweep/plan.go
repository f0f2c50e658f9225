package sweep

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/scalelab/scalelab/experiments"
	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/config"
)

// Options configure Open.
type Options struct {
	// Registry resolves the configs' component types.
	Registry *framework.Registry
	// Sets are --set overrides applied to every cell after the sweep file's own settings.
	Sets []string
	// Env is the environment searched for SCALELAB_ overrides (nil = os.Environ()).
	Env []string
	// Root is the results root (default <experiment.out of the base>/<sweep name>).
	Root string
	// Logger receives progress messages (default slog.Default()).
	Logger *slog.Logger
}

// Sweep is an expanded sweep: its cells, the trainings they need and the evaluation runs,
// each in a fixed order so that run i (run-index) is the same run on every machine.
type Sweep struct {
	// File is the parsed sweep file; Path names it as the caller did.
	File *File
	Path string
	// BasePath is the base config file loaded for every cell.
	BasePath string
	// Root is the results root.
	Root string
	// Cells in expansion order.
	Cells []*CellPlan
	// Trainings are the distinct trainings (policy, training hash), in order of first use.
	Trainings []*Training
	// Runs are every evaluation run: cells in order, each cell's matrix in its order.
	Runs []Run

	opts     Options
	tempBase string // inline base config written for the loader; removed by Close
}

// CellPlan is a cell with its configs.
type CellPlan struct {
	Cell
	// Root is the cell's results folder: <sweep root>/cells/<ID>, laid out like the results
	// of `scalelab run`.
	Root string
	// Config is the cell's config before checkpoints of trained policies are filled in.
	Config *config.Loaded
	// Trainings maps the cell's learning policies to their training.
	Trainings map[string]*Training
}

// Run is one evaluation run of the sweep.
type Run struct {
	// Index is the run's position in the sweep (the Indexed Job's completion index).
	Index int
	Cell  *CellPlan
	Spec  experiments.RunSpec
}

// Dir is the run's folder relative to the sweep root.
func (r Run) Dir() string { return filepath.Join("cells", r.Cell.ID, r.Spec.Dir()) }

// Training is one distinct training of a learning policy, shared by every cell whose
// training-relevant config is the same.
type Training struct {
	// Index is the training's position (the training Job's completion index).
	Index int `json:"index"`
	// Policy is the policy's name in config.
	Policy string `json:"policy"`
	// Hash is experiments.Builder.TrainHash of the policy (without its checkpoint key).
	Hash string `json:"hash"`
	// Dir is the training's output folder relative to the sweep root:
	// train/<policy>-<first 12 hex digits of Hash>.
	Dir string `json:"dir"`
	// Cells are the IDs of the cells that evaluate this training's checkpoint.
	Cells []string `json:"cells"`

	cell *CellPlan
}

// Open reads a sweep file, expands its cells and loads each cell's config strictly (every
// cell's problems are reported, naming the cell). Building the plan builds each configured
// policy once to find the learning ones (framework.Trainer) that hold no trained model.
// Close removes the temporary file an inline base config needs.
func Open(path string, opts Options) (_ *Sweep, err error) {
	if opts.Registry == nil {
		return nil, fmt.Errorf("sweep: Open needs a registry")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	f, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := &Sweep{File: f, Path: path, opts: opts}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	dir := filepath.Dir(path)
	if f.Base != "" {
		s.BasePath = filepath.Join(dir, f.Base)
		if filepath.IsAbs(f.Base) {
			s.BasePath = f.Base
		}
	} else {
		data, err := yaml.Marshal(f.Config)
		if err != nil {
			return nil, fmt.Errorf("%s: config: %w", path, err)
		}
		tmp, err := os.CreateTemp(dir, ".sweep-"+f.Name+"-base-*.yaml")
		if err != nil {
			return nil, fmt.Errorf("%s: write the inline base config beside the sweep file: %w", path, err)
		}
		s.tempBase = tmp.Name()
		if _, err := tmp.Write(data); err != nil {
			tmp.Close()
			return nil, err
		}
		if err := tmp.Close(); err != nil {
			return nil, err
		}
		s.BasePath = s.tempBase
	}
	cells, err := f.Cells()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var problems []string
	for i := range cells {
		c := &CellPlan{Cell: cells[i], Trainings: map[string]*Training{}}
		c.Config, err = s.load(c.Sets, nil)
		if err != nil {
			problems = append(problems, fmt.Sprintf("cell %s: %v", c.ID, err))
			continue
		}
		s.Cells = append(s.Cells, c)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s: %s", path, strings.Join(problems, "\n"))
	}
	s.Root = opts.Root
	if s.Root == "" {
		s.Root = filepath.Join(s.Cells[0].Config.Config.Experiment.Out, f.Name)
	}
	if s.Root, err = filepath.Abs(s.Root); err != nil {
		return nil, err
	}
	for _, c := range s.Cells {
		c.Root = filepath.Join(s.Root, "cells", c.ID)
		if err := s.planTrainings(c); err != nil {
			return nil, fmt.Errorf("cell %s: %w", c.ID, err)
		}
		b := s.builder(c.Config)
		for _, spec := range b.Matrix() {
			s.Runs = append(s.Runs, Run{Index: len(s.Runs), Cell: c, Spec: spec})
		}
	}
	return s, nil
}

// Close removes the temporary copy of an inline base config.
func (s *Sweep) Close() error {
	if s.tempBase == "" {
		return nil
	}
	err := os.Remove(s.tempBase)
	s.tempBase = ""
	return err
}

// load loads the base config with the cell's overrides, then the caller's --set
// overrides, then the checkpoint overrides (last, so a --set replacing a whole policy
// section keeps them).
func (s *Sweep) load(sets, checkpoints []string) (*config.Loaded, error) {
	all := append(append(append([]string(nil), sets...), s.opts.Sets...), checkpoints...)
	l, err := config.LoadWithOptions(s.BasePath, s.opts.Registry, config.Options{Sets: all, Env: s.opts.Env})
	if err != nil {
		return nil, err
	}
	if s.tempBase != "" {
		l.File = s.Path + "#config"
	}
	return l, nil
}

func (s *Sweep) builder(l *config.Loaded) *experiments.Builder {
	return &experiments.Builder{Loaded: l, Registry: s.opts.Registry, Logger: s.opts.Logger}
}

// planTrainings finds the cell's learning policies that need training — no trained model,
// or a checkpoint stamped with another training hash (experiments.TrainedHasher: it was
// trained from a different config) — and assigns each to a training, shared with earlier
// cells of the same training hash. A policy that cannot be built is left to fail its runs.
func (s *Sweep) planTrainings(c *CellPlan) error {
	b := s.builder(c.Config)
	for _, p := range b.PolicyNames() {
		pol, err := b.BuildPolicy(p)
		if err != nil {
			// The policy cannot be built: its runs fail with this error, the others go on.
			s.opts.Logger.Debug("policy cannot be built", "cell", c.ID, "policy", p, "error", err)
			continue
		}
		_, learns := pol.(framework.Trainer)
		have := ""
		if th, ok := pol.(experiments.TrainedHasher); ok {
			have = th.TrainedHash()
		} else if r, ok := pol.(experiments.TrainedReporter); ok && r.Trained() {
			have = "trained"
		}
		if cl, ok := pol.(interface{ Close() error }); ok {
			_ = cl.Close()
		}
		if !learns {
			continue
		}
		h, err := b.TrainHash(p, "policies."+p+"."+s.File.Train.CheckpointKey)
		if err != nil {
			return err
		}
		if have == h || have == "trained" {
			continue // evaluate the configured checkpoint
		}
		var t *Training
		for _, u := range s.Trainings {
			if u.Policy == p && u.Hash == h {
				t = u
			}
		}
		if t == nil {
			t = &Training{Index: len(s.Trainings), Policy: p, Hash: h, Dir: filepath.Join("train", p+"-"+h[:12]), cell: c}
			s.Trainings = append(s.Trainings, t)
		}
		t.Cells = append(t.Cells, c.ID)
		c.Trainings[p] = t
	}
	return nil
}

// checkpointSets are the overrides pointing the cell's learning policies at their
// trained checkpoints, relative to the base config's directory (where the policy resolves
// them), so the results stay valid when the project folder moves as a whole.
func (s *Sweep) checkpointSets(c *CellPlan) ([]string, error) {
	names := make([]string, 0, len(c.Trainings))
	for p := range c.Trainings {
		names = append(names, p)
	}
	sort.Strings(names)
	var out []string
	for _, p := range names {
		t := c.Trainings[p]
		abs := filepath.Join(s.Root, t.Dir, s.File.Train.CheckpointFile)
		rel, err := filepath.Rel(c.Config.BaseDir, abs)
		if err != nil {
			rel = abs
		}
		out = append(out, "policies."+p+"."+s.File.Train.CheckpointKey+"="+filepath.ToSlash(rel))
	}
	return out, nil
}

// EvalBuilder returns the builder of the cell's evaluation config: the cell's config with
// every learning policy pointed at its training's checkpoint. It loads the config afresh
// on every call: load it after the trainings finished, since the checkpoint's digest
// enters the run hash.
func (s *Sweep) EvalBuilder(c *CellPlan) (*experiments.Builder, error) {
	if len(c.Trainings) == 0 {
		return s.builder(c.Config), nil
	}
	extra, err := s.checkpointSets(c)
	if err != nil {
		return nil, err
	}
	l, err := s.load(c.Sets, extra)
	if err != nil {
		return nil, fmt.Errorf("cell %s: %w", c.ID, err)
	}
	return s.builder(l), nil
}

// Cell returns the cell with the given ID (nil if none).
func (s *Sweep) Cell(id string) *CellPlan {
	for _, c := range s.Cells {
		if c.ID == id {
			return c
		}
	}
	return nil
}

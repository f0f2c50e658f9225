package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/scalelab/scalelab/experiments"
	"github.com/scalelab/scalelab/experiments/sweep"
	"github.com/scalelab/scalelab/framework"
)

// Kinds of results folders.
const (
	KindExperiment = "experiment"
	KindSweep      = "sweep"
)

// Study is everything a report covers: one experiment (`scalelab run`) or one sweep, merged
// from one or more results roots.
type Study struct {
	// Kind is KindExperiment or KindSweep.
	Kind string
	// Name is the experiment's or the sweep's name.
	Name string
	// Roots are the results folders read, in the order given.
	Roots []string
	// Sweep is the sweep's plan (sweep.json); Status its last full run (status.json), if any.
	Sweep  *sweep.Info
	Status *sweep.Status
	// Experiments are the experiment (one) or the sweep's cells (in plan order).
	Experiments []*Experiment
	// Trainings are the training folders found (sweep: train/*; experiment: train/).
	Trainings []*Training
}

// Experiment is one experiment's results: a plain experiment or one cell of a sweep.
type Experiment struct {
	// Dir is the experiment's folder relative to its root ("" for a plain experiment,
	// "cells/<id>" for a sweep cell).
	Dir string
	// Cell is the sweep cell (nil for a plain experiment).
	Cell *sweep.CellInfo
	// Info is the experiment's experiment.json.
	Info experiments.ExperimentInfo
	// Config is the resolved config (config.resolved.yaml) as written.
	Config string
	// SLO, Interval, Duration and Warmup come from the resolved config.
	SLO, Interval, Duration, Warmup time.Duration
	// Runs are the finished runs found, sorted by profile, policy and repetition.
	Runs []*Run
}

// Run is one finished run on disk.
type Run struct {
	Info experiments.RunInfo
	KPIs framework.KPIs
	// Path is the run's folder.
	Path string
}

// Training is a training folder: a trainer's output (episodes.csv, iterations.csv).
type Training struct {
	// Name is the folder's name relative to its root (e.g. train/ppo-0123456789ab).
	Name string
	Path string
	// Policy and Cells come from train.json, when the sweep wrote one.
	Policy string
	Cells  []string
}

// Load reads results folders and merges them: every root is an experiment root
// (experiment.json) or a sweep root (sweep.json) of the same experiment or sweep, as the
// workers of an Indexed Job or several machines wrote them. A run found in several roots
// must be the same run (same run hash and seed); otherwise Load fails naming the run and
// the roots.
func Load(roots ...string) (*Study, error) {
	if len(roots) == 0 {
		return nil, errors.New("report: no results folder given")
	}
	st := &Study{}
	byDir := map[string]*Experiment{}
	runOrigin := map[string]string{} // run key → root
	trainSeen := map[string]bool{}
	for _, root := range roots {
		kind, err := kindOf(root)
		if err != nil {
			return nil, err
		}
		if st.Kind == "" {
			st.Kind = kind
		} else if st.Kind != kind {
			return nil, fmt.Errorf("report: %s holds a %s's results but %s a %s's: merge results of one study only", roots[0], st.Kind, root, kind)
		}
		st.Roots = append(st.Roots, root)
		var dirs []string
		var cells []*sweep.CellInfo
		if kind == KindSweep {
			in, err := sweep.ReadInfo(root)
			if err != nil {
				return nil, fmt.Errorf("report: %w", err)
			}
			if st.Sweep == nil {
				st.Sweep, st.Name = in, in.Name
			} else if in.Name != st.Sweep.Name || len(in.Cells) != len(st.Sweep.Cells) {
				return nil, fmt.Errorf("report: %s is the sweep %q with %d cells, %s the sweep %q with %d: merge results of one sweep only",
					roots[0], st.Sweep.Name, len(st.Sweep.Cells), root, in.Name, len(in.Cells))
			}
			if s, err := sweep.ReadStatus(root); err == nil && st.Status == nil {
				st.Status = s
			}
			for i := range in.Cells {
				dirs = append(dirs, filepath.Join("cells", in.Cells[i].ID))
				cells = append(cells, &in.Cells[i])
			}
		} else {
			dirs, cells = []string{""}, []*sweep.CellInfo{nil}
		}
		for i, d := range dirs {
			e := byDir[d]
			if e == nil {
				e = &Experiment{Dir: d, Cell: cells[i]}
				byDir[d] = e
				st.Experiments = append(st.Experiments, e)
			}
			if err := e.merge(root, runOrigin); err != nil {
				return nil, err
			}
		}
		for _, t := range findTrainings(root) {
			if !trainSeen[t.Name] {
				trainSeen[t.Name] = true
				st.Trainings = append(st.Trainings, t)
			}
		}
	}
	if st.Kind == KindExperiment {
		st.Name = st.Experiments[0].Info.Name
	}
	for _, e := range st.Experiments {
		sort.Slice(e.Runs, func(i, j int) bool {
			a, b := e.Runs[i].Info, e.Runs[j].Info
			if a.Profile != b.Profile {
				return a.Profile < b.Profile
			}
			if a.Policy != b.Policy {
				return a.Policy < b.Policy
			}
			return a.Repetition < b.Repetition
		})
	}
	sort.Slice(st.Trainings, func(i, j int) bool { return st.Trainings[i].Name < st.Trainings[j].Name })
	return st, nil
}

func kindOf(root string) (string, error) {
	if _, err := os.Stat(filepath.Join(root, sweep.InfoFile)); err == nil {
		return KindSweep, nil
	}
	if _, err := os.Stat(filepath.Join(root, "experiment.json")); err == nil {
		return KindExperiment, nil
	}
	if _, err := os.Stat(root); err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	return "", fmt.Errorf("report: %s is not a scalelab results folder (it has neither experiment.json nor %s)", root, sweep.InfoFile)
}

// merge adds the experiment's metadata (first root that has it) and runs from root.
func (e *Experiment) merge(root string, origin map[string]string) error {
	dir := filepath.Join(root, e.Dir)
	var info experiments.ExperimentInfo
	if err := readJSON(filepath.Join(dir, "experiment.json"), &info); err == nil {
		if e.Info.ConfigHash == "" {
			e.Info = info
		} else if info.ConfigHash != e.Info.ConfigHash {
			return fmt.Errorf("report: %s was run from another config (hash %.12s) than the same experiment in an earlier root (%.12s)",
				dir, info.ConfigHash, e.Info.ConfigHash)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("report: %w", err)
	}
	if e.Config == "" {
		if b, err := os.ReadFile(filepath.Join(dir, "config.resolved.yaml")); err == nil {
			e.Config = string(b)
			e.readConfig()
		}
	}
	policies, err := subdirs(filepath.Join(dir, "runs"))
	if err != nil {
		return nil
	}
	for _, pol := range policies {
		profiles, _ := subdirs(filepath.Join(dir, "runs", pol))
		for _, prof := range profiles {
			reps, _ := subdirs(filepath.Join(dir, "runs", pol, prof))
			for _, rep := range reps {
				if _, err := strconv.Atoi(strings.TrimPrefix(rep, "rep-")); err != nil || !strings.HasPrefix(rep, "rep-") {
					continue
				}
				p := filepath.Join(dir, "runs", pol, prof, rep)
				r, err := readRun(p)
				if errors.Is(err, os.ErrNotExist) {
					continue // not finished
				}
				if err != nil {
					return fmt.Errorf("report: %w", err)
				}
				key := filepath.Join(e.Dir, pol, prof, rep)
				if first, dup := origin[key]; dup {
					prev := e.find(r.Info.Policy, r.Info.Profile, r.Info.Repetition)
					if prev != nil && (prev.Info.RunHash != r.Info.RunHash || prev.Info.Seed != r.Info.Seed) {
						return fmt.Errorf("report: run %s differs between %s and %s (run hash %.12s vs %.12s): the roots hold results of different configs",
							filepath.Join(e.Dir, "runs", pol, prof, rep), first, root, prev.Info.RunHash, r.Info.RunHash)
					}
					continue
				}
				origin[key] = root
				e.Runs = append(e.Runs, r)
			}
		}
	}
	return nil
}

func (e *Experiment) find(policy, profile string, rep int) *Run {
	for _, r := range e.Runs {
		if r.Info.Policy == policy && r.Info.Profile == profile && r.Info.Repetition == rep {
			return r
		}
	}
	return nil
}

// readConfig extracts the durations the plots need from the resolved config.
func (e *Experiment) readConfig() {
	var m map[string]any
	if err := sigsyaml.Unmarshal([]byte(e.Config), &m); err != nil {
		return
	}
	get := func(section, key string) time.Duration {
		s, _ := m[section].(map[string]any)
		v, _ := s[key].(string)
		d, _ := time.ParseDuration(v)
		return d
	}
	e.SLO = get("slo", "latency")
	e.Interval = get("experiment", "control_interval")
	e.Duration = get("experiment", "duration")
	e.Warmup = get("experiment", "warmup")
}

func readRun(dir string) (*Run, error) {
	r := &Run{Path: dir}
	if _, err := os.Stat(filepath.Join(dir, "kpis.json")); err != nil {
		return nil, err
	}
	if err := readJSON(filepath.Join(dir, "run.json"), &r.Info); err != nil {
		return nil, err
	}
	k, err := framework.ReadKPIs(filepath.Join(dir, "kpis.json"))
	if err != nil {
		return nil, err
	}
	r.KPIs = k
	return r, nil
}

// findTrainings lists training folders: train/ itself or its subfolders holding a
// trainer's episodes.csv or iterations.csv.
func findTrainings(root string) []*Training {
	var out []*Training
	isTraining := func(d string) bool {
		for _, f := range []string{"episodes.csv", "iterations.csv"} {
			if _, err := os.Stat(filepath.Join(d, f)); err == nil {
				return true
			}
		}
		return false
	}
	add := func(rel string) {
		t := &Training{Name: filepath.ToSlash(rel), Path: filepath.Join(root, rel)}
		var ti sweep.TrainInfo
		if err := readJSON(filepath.Join(t.Path, sweep.TrainFile), &ti); err == nil {
			t.Policy, t.Cells = ti.Policy, ti.Cells
		}
		out = append(out, t)
	}
	if isTraining(filepath.Join(root, "train")) {
		add("train")
	}
	subs, _ := subdirs(filepath.Join(root, "train"))
	for _, s := range subs {
		if isTraining(filepath.Join(root, "train", s)) {
			add(filepath.Join("train", s))
		}
	}
	return out
}

// subdirs lists the visible subfolders of dir, sorted.
func subdirs(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

package experiments

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/scalelab/scalelab/framework"
)

// Result is a finished experiment.
type Result struct {
	Root     string
	Outcomes []RunOutcome
	Summary  *Summary
	Wall     time.Duration
}

// ExperimentInfo is written as experiment.json at the experiment root.
type ExperimentInfo struct {
	Name        string   `json:"name"`
	ConfigFile  string   `json:"config_file"`
	ConfigHash  string   `json:"config_hash"`
	Seed        uint64   `json:"seed"`
	Version     string   `json:"scalelab_version"`
	Policies    []string `json:"policies"`
	Profiles    []string `json:"profiles"`
	Repetitions int      `json:"repetitions"`
	Baseline    string   `json:"baseline"`
	Runs        int      `json:"runs"`
	Failed      int      `json:"failed"`
	Reused      int      `json:"reused"`
	WallS       float64  `json:"wall_s"`
}

// Root returns the experiment's results directory: out (when given) or
// <experiment.out>/<experiment.name> resolved against the working directory.
func (b *Builder) Root(out string) string {
	if out != "" {
		return out
	}
	cfg := b.Loaded.Config
	return filepath.Join(cfg.Experiment.Out, cfg.Experiment.Name)
}

// RunExperiment runs the whole matrix and writes the summary. A config hash that differs
// from the one recorded in the root (the config changed) is an error unless the caller
// removes the old results: reusing runs of another config would mix results.
func (b *Builder) RunExperiment(ctx context.Context, o Options) (*Result, error) {
	start := time.Now()
	if err := os.MkdirAll(o.Root, 0o755); err != nil {
		return nil, fmt.Errorf("results directory: %w", err)
	}
	infoPath := filepath.Join(o.Root, "experiment.json")
	if prev, err := readInfo(infoPath); err == nil && prev.ConfigHash != b.Loaded.Hash {
		return nil, fmt.Errorf("%s holds results of another config (hash %.12s…, this config %.12s…): "+
			"choose another --out or remove the folder", o.Root, prev.ConfigHash, b.Loaded.Hash)
	}
	if err := b.Loaded.WriteResolved(filepath.Join(o.Root, "config.resolved.yaml")); err != nil {
		return nil, err
	}
	cfg := b.Loaded.Config
	info := ExperimentInfo{Name: cfg.Experiment.Name, ConfigFile: b.Loaded.File, ConfigHash: b.Loaded.Hash,
		Seed: cfg.Experiment.Seed, Version: o.Version, Policies: b.PolicyNames(), Profiles: cfg.Experiment.Profiles,
		Repetitions: cfg.Experiment.Repetitions, Baseline: cfg.Experiment.Baseline}
	if err := framework.WriteJSONAtomic(infoPath, info); err != nil {
		return nil, err
	}
	outcomes, runErr := b.Run(ctx, o)
	sum := Summarize(cfg.Experiment.Name, cfg.Experiment.Profiles, b.PolicyNames(), outcomes, 0.95)
	res := &Result{Root: o.Root, Outcomes: outcomes, Summary: sum, Wall: time.Since(start)}
	info.Runs = len(outcomes)
	for _, oc := range outcomes {
		if oc.Err != nil {
			info.Failed++
		}
		if oc.Skipped {
			info.Reused++
		}
	}
	info.WallS = res.Wall.Seconds()
	if err := framework.WriteJSONAtomic(infoPath, info); err != nil {
		return res, err
	}
	if err := framework.WriteFileAtomic(filepath.Join(o.Root, "summary.md"), []byte(sum.Markdown())); err != nil {
		return res, err
	}
	if err := framework.WriteFileAtomic(filepath.Join(o.Root, "summary.csv"), sum.CSV()); err != nil {
		return res, err
	}
	if err := framework.WriteFileAtomic(filepath.Join(o.Root, "kpis.csv"), RunsCSV(outcomes)); err != nil {
		return res, err
	}
	return res, runErr
}

func readInfo(path string) (ExperimentInfo, error) {
	var info ExperimentInfo
	b, err := os.ReadFile(path)
	if err != nil {
		return info, err
	}
	return info, jsonUnmarshal(b, &info)
}

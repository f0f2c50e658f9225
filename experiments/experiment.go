package experiments

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/config"
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

// RunExperiment runs the whole matrix and writes the summary. Finished runs on disk are
// reused only when their run hash (RunHash) matches, so changing a policy or the scenario
// reruns exactly the runs it affects, while adding repetitions, profiles or policies reuses
// the rest.
func (b *Builder) RunExperiment(ctx context.Context, o Options) (*Result, error) {
	start := time.Now()
	if err := os.MkdirAll(o.Root, 0o755); err != nil {
		return nil, fmt.Errorf("results directory: %w", err)
	}
	infoPath := filepath.Join(o.Root, "experiment.json")
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

// RunHash identifies everything that determines one policy's runs: the resolved config
// without the experiment-level keys that only select or place runs (name, out, workers,
// repetitions, profiles, baseline) and without the other policies, plus the digests of the
// referenced files. The run's profile, repetition and seed are part of its folder and
// run.json.
func (b *Builder) RunHash(policy string) (string, error) {
	omit := []string{"experiment.name", "experiment.out", "experiment.workers", "experiment.repetitions",
		"experiment.profiles", "experiment.baseline"}
	for n := range b.Loaded.Config.Policies {
		if n != policy {
			omit = append(omit, "policies."+n)
		}
	}
	return config.HashOf(b.Loaded.Resolved, b.Loaded.Files, omit)
}

package experiments

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/scalelab/scalelab/framework"
)

// Prepare creates the experiment's results directory o.Root and writes the resolved config
// (config.resolved.yaml) and a first experiment.json (no run counts yet). It is the first
// phase of RunExperiment, exported for callers that schedule runs themselves (sweeps,
// run-index); writing it again with the same config writes the same files.
func (b *Builder) Prepare(o Options) (ExperimentInfo, error) {
	cfg := b.Loaded.Config
	info := ExperimentInfo{Name: cfg.Experiment.Name, ConfigFile: b.Loaded.File, ConfigHash: b.Loaded.Hash,
		Seed: cfg.Experiment.Seed, Version: o.Version, Policies: b.PolicyNames(), Profiles: cfg.Experiment.Profiles,
		Repetitions: cfg.Experiment.Repetitions, Baseline: cfg.Experiment.Baseline}
	if err := os.MkdirAll(o.Root, 0o755); err != nil {
		return info, fmt.Errorf("results directory: %w", err)
	}
	if err := b.Loaded.WriteResolved(filepath.Join(o.Root, "config.resolved.yaml")); err != nil {
		return info, err
	}
	if err := framework.WriteJSONAtomic(filepath.Join(o.Root, "experiment.json"), info); err != nil {
		return info, err
	}
	return info, nil
}

// RunOne executes one run of the matrix into o.Root, or reuses it when a finished run with
// the same run hash and seed is on disk (RunOutcome.Skipped). It is what Run does for each
// run, exported for callers that schedule runs themselves: the outputs are the same
// whichever way a run is scheduled.
func (b *Builder) RunOne(ctx context.Context, o Options, spec RunSpec) RunOutcome {
	return b.runOne(ctx, o, spec)
}

// Finish is RunExperiment's last phase: it completes experiment.json with the run counts
// and wall time and writes summary.md, summary.csv and kpis.csv from the outcomes.
func (b *Builder) Finish(o Options, info ExperimentInfo, outcomes []RunOutcome, wall time.Duration) (*Result, error) {
	cfg := b.Loaded.Config
	sum := Summarize(cfg.Experiment.Name, cfg.Experiment.Profiles, b.PolicyNames(), outcomes, 0.95)
	res := &Result{Root: o.Root, Outcomes: outcomes, Summary: sum, Wall: wall}
	info.Runs = len(outcomes)
	info.Failed, info.Reused = 0, 0
	for _, oc := range outcomes {
		if oc.Err != nil {
			info.Failed++
		}
		if oc.Skipped {
			info.Reused++
		}
	}
	info.WallS = wall.Seconds()
	if err := framework.WriteJSONAtomic(filepath.Join(o.Root, "experiment.json"), info); err != nil {
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
	return res, nil
}

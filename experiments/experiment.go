package experiments

import (
	"context"
	"path/filepath"
	"time"

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
	info, err := b.Prepare(o)
	if err != nil {
		return nil, err
	}
	outcomes, runErr := b.Run(ctx, o)
	res, err := b.Finish(o, info, outcomes, time.Since(start))
	if err != nil {
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

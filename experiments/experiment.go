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
	// Files referenced by the other policies (their modules, binaries, checkpoints) do not
	// change this policy's runs: a learner's retraining must not rerun the baselines.
	others := map[string]bool{}
	for n := range b.Loaded.Config.Policies {
		if n == policy {
			continue
		}
		for _, f := range b.policyFiles(n) {
			others[filepath.Clean(f)] = true
		}
	}
	for _, f := range b.policyFiles(policy) {
		delete(others, filepath.Clean(f))
	}
	var files []config.FileDigest
	for _, f := range b.Loaded.Files {
		if !others[filepath.Clean(f.Abs)] {
			files = append(files, f)
		}
	}
	return config.HashOf(b.Loaded.Resolved, files, omit)
}

// policyFiles returns the files a policy's config references (its factory's Files hook).
func (b *Builder) policyFiles(name string) []string {
	pc := b.Loaded.Config.Policies[name]
	f, ok := b.Registry.Policies[pc.Type]
	if !ok || f.Files == nil {
		return nil
	}
	return f.Files(b.Loaded.BaseDir, b.Loaded.Components["policies."+name])
}

package experiments

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/scalelab/scalelab/framework"
)

// RunSpec identifies one run of the matrix: (policy, profile, repetition).
type RunSpec struct {
	Policy     string `json:"policy"`
	Profile    string `json:"profile"`
	Repetition int    `json:"repetition"`
	Seed       uint64 `json:"seed"`
}

// Dir is the run's folder relative to the experiment root.
func (r RunSpec) Dir() string {
	return filepath.Join("runs", r.Policy, r.Profile, fmt.Sprintf("rep-%d", r.Repetition))
}

// RunOutcome is a finished (or failed) run.
type RunOutcome struct {
	Spec    RunSpec
	KPIs    framework.KPIs
	Skipped bool // found finished on disk and reused
	Err     error
	Wall    time.Duration
}

// Options configure Run.
type Options struct {
	// Root is the experiment's results directory.
	Root string
	// Workers is the number of parallel runs (0 = GOMAXPROCS).
	Workers int
	// Version is the scalelab version recorded with every result.
	Version string
	// Progress, when set, is called after each run finishes.
	Progress func(done, total int, o RunOutcome)
}

// Matrix returns the runs of a config: policies × profiles × repetitions, in a stable order.
func (b *Builder) Matrix() []RunSpec {
	cfg := b.Loaded.Config
	var out []RunSpec
	for _, prof := range cfg.Experiment.Profiles {
		for rep := 0; rep < cfg.Experiment.Repetitions; rep++ {
			for _, p := range b.PolicyNames() {
				out = append(out, RunSpec{Policy: p, Profile: prof, Repetition: rep, Seed: EvalSeed(cfg.Experiment.Seed, rep)})
			}
		}
	}
	return out
}

// RunInfo is written as run.json beside each run's KPIs.
type RunInfo struct {
	RunSpec
	ConfigHash string  `json:"config_hash"`
	RunHash    string  `json:"run_hash"`
	Version    string  `json:"scalelab_version"`
	Backend    string  `json:"backend"`
	DurationS  float64 `json:"duration_s"`
	WarmupS    float64 `json:"warmup_s"`
	WallS      float64 `json:"wall_s"`
}

// Run executes every run of the matrix that is not already finished on disk, in parallel,
// and returns all outcomes in matrix order. One failing run does not stop the others; the
// returned error joins the failures. Cancelling ctx stops cleanly: finished runs stay, the
// unfinished leave nothing behind, and a rerun continues.
func (b *Builder) Run(ctx context.Context, o Options) ([]RunOutcome, error) {
	specs := b.Matrix()
	if err := os.MkdirAll(o.Root, 0o755); err != nil {
		return nil, fmt.Errorf("results directory: %w", err)
	}
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	outcomes := make([]RunOutcome, len(specs))
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				oc := b.runOne(ctx, o, specs[i])
				outcomes[i] = oc
				mu.Lock()
				done++
				if o.Progress != nil {
					o.Progress(done, len(specs), oc)
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for i := range specs {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	var errs []error
	for i, oc := range outcomes {
		if oc.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", specs[i].Dir(), oc.Err))
		}
	}
	if ctx.Err() != nil {
		errs = append(errs, ctx.Err())
	}
	return outcomes, errors.Join(errs...)
}

func (b *Builder) runOne(ctx context.Context, o Options, spec RunSpec) RunOutcome {
	oc := RunOutcome{Spec: spec}
	if ctx.Err() != nil {
		oc.Err = ctx.Err()
		return oc
	}
	final := filepath.Join(o.Root, spec.Dir())
	rh, err := b.RunHash(spec.Policy)
	if err != nil {
		oc.Err = err
		return oc
	}
	if info, err := readRunInfo(filepath.Join(final, "run.json")); err == nil && info.RunHash == rh && info.Seed == spec.Seed {
		if k, err := framework.ReadKPIs(filepath.Join(final, "kpis.json")); err == nil {
			oc.KPIs, oc.Skipped = k, true
			return oc
		}
	}
	start := time.Now()
	k, err := b.execute(ctx, o, spec, final, rh)
	oc.KPIs, oc.Err, oc.Wall = k, err, time.Since(start)
	return oc
}

// execute runs one episode into a temporary folder and renames it into place.
func (b *Builder) execute(ctx context.Context, o Options, spec RunSpec, final, runHash string) (framework.KPIs, error) {
	cfg := b.Loaded.Config
	parent := filepath.Dir(final)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return framework.KPIs{}, err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(final)+".tmp-*")
	if err != nil {
		return framework.KPIs{}, err
	}
	defer os.RemoveAll(tmp) // no-op after the rename
	loop, err := b.Loop(spec.Policy, spec.Seed)
	if err != nil {
		return framework.KPIs{}, err
	}
	defer loop.Backend.Close()
	if c, ok := loop.Policy.(interface{ Close() error }); ok {
		defer c.Close()
	}
	ld, err := b.Profile(spec.Profile)
	if err != nil {
		return framework.KPIs{}, err
	}
	var terms []string
	if loop.Reward != nil {
		terms = loop.Reward.Terms()
	}
	tw, err := framework.NewTrajectoryWriter(filepath.Join(tmp, "trajectory.csv"), loop.Collector.Features(), loop.Design.Space().Dim(), terms)
	if err != nil {
		return framework.KPIs{}, err
	}
	start := time.Now()
	res, err := framework.RunEpisode(ctx, loop, b.Episode(ld, spec.Seed), framework.RunOptions{
		Duration:   cfg.Experiment.Duration,
		Warmup:     cfg.Experiment.Warmup,
		Trajectory: tw,
	})
	if err != nil {
		tw.Abort()
		return framework.KPIs{}, err
	}
	if err := tw.Close(); err != nil {
		return framework.KPIs{}, err
	}
	if err := writeCDF(filepath.Join(tmp, "latency_cdf.csv"), res.Latency); err != nil {
		return framework.KPIs{}, err
	}
	info := RunInfo{RunSpec: spec, ConfigHash: b.Loaded.Hash, RunHash: runHash, Version: o.Version, Backend: cfg.Backend.Type,
		DurationS: cfg.Experiment.Duration.Seconds(), WarmupS: cfg.Experiment.Warmup.Seconds(), WallS: time.Since(start).Seconds()}
	if err := framework.WriteJSONAtomic(filepath.Join(tmp, "run.json"), info); err != nil {
		return framework.KPIs{}, err
	}
	// kpis.json last: its presence marks a finished run.
	if err := framework.WriteKPIs(filepath.Join(tmp, "kpis.json"), res.KPIs); err != nil {
		return framework.KPIs{}, err
	}
	os.RemoveAll(final) // a run of a changed config, or an unfinished folder
	if err := os.Rename(tmp, final); err != nil {
		return framework.KPIs{}, fmt.Errorf("finish run: %w", err)
	}
	return res.KPIs, nil
}

func writeCDF(path string, h *framework.Histogram) error {
	var buf []byte
	buf = append(buf, "latency_ms,cumulative_fraction\n"...)
	for _, p := range h.CDF() {
		buf = fmt.Appendf(buf, "%g,%g\n", p[0], p[1])
	}
	return framework.WriteFileAtomic(path, buf)
}

func readRunInfo(path string) (RunInfo, error) {
	var info RunInfo
	b, err := os.ReadFile(path)
	if err != nil {
		return info, err
	}
	return info, jsonUnmarshal(b, &info)
}

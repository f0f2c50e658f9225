package sweep

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/scalelab/scalelab/experiments"
	"github.com/scalelab/scalelab/framework"
)

// ExecOptions configure Execute, RunIndex and TrainIndex.
type ExecOptions struct {
	// Workers is the number of parallel evaluation runs (0 = experiment.workers of the
	// first cell, else GOMAXPROCS).
	Workers int
	// Version is the scalelab version recorded with every result.
	Version string
	// Progress, when set, is called after each evaluation run finishes.
	Progress func(done, total int, r Run, o experiments.RunOutcome)
	// TrainProgress, when set, receives the trainers' progress reports.
	TrainProgress func(t *Training, p framework.TrainProgress)
	// WaitTrain is how long RunIndex waits for a training another worker runs (0 = fail at
	// once when the training has not finished).
	WaitTrain time.Duration
	// PollEvery is how often RunIndex looks for the training (default 10 s).
	PollEvery time.Duration
}

// Result is a finished (or interrupted) sweep.
type Result struct {
	// Outcomes are aligned with Sweep.Runs; runs never started (interrupted) have the
	// context's error.
	Outcomes []experiments.RunOutcome
	// Cells are the cells' experiment results (summary tables), in cell order; nil for a
	// cell whose summary could not be written.
	Cells  []*experiments.Result
	Status Status
}

// Execute runs the whole sweep: it writes the plan (sweep.json, each cell's cell.json),
// trains every learning policy whose training is not cached under train/, then evaluates
// every run that is not finished on disk on a pool of workers, writes each cell's summary
// (as `scalelab run` does) and status.json. One failing run or training is recorded and
// the others go on; the returned error joins the failures. Cancelling ctx stops cleanly:
// finished runs and trainings stay, and a rerun continues.
func (s *Sweep) Execute(ctx context.Context, o ExecOptions) (*Result, error) {
	start := time.Now()
	if err := s.writePlan(o.Version); err != nil {
		return nil, err
	}
	res := &Result{Outcomes: make([]experiments.RunOutcome, len(s.Runs)), Status: Status{Runs: len(s.Runs)}}
	trainErr := map[*Training]error{}
	for _, t := range s.Trainings {
		if ctx.Err() != nil {
			break
		}
		reused, err := s.Train(ctx, t, o)
		switch {
		case err != nil:
			trainErr[t] = err
			if ctx.Err() == nil {
				res.Status.Failures = append(res.Status.Failures, Failure{Dir: t.Dir, Error: err.Error()})
			}
		case reused:
			res.Status.TrainReused++
		default:
			res.Status.Trained++
		}
	}
	builders := make([]*experiments.Builder, len(s.Cells))
	infos := make([]experiments.ExperimentInfo, len(s.Cells))
	cellErr := map[*CellPlan]error{}
	for i, c := range s.Cells {
		if ctx.Err() != nil {
			break
		}
		b, err := s.EvalBuilder(c)
		if err == nil {
			infos[i], err = b.Prepare(s.cellOptions(c, o))
		}
		if err != nil {
			cellErr[c] = err
			continue
		}
		builders[i] = b
	}
	cellIndex := map[*CellPlan]int{}
	for i, c := range s.Cells {
		cellIndex[c] = i
	}
	workers := o.Workers
	if workers <= 0 {
		workers = s.Cells[0].Config.Config.Experiment.Workers
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				r := s.Runs[i]
				var oc experiments.RunOutcome
				b := builders[cellIndex[r.Cell]]
				switch t := r.Cell.Trainings[r.Spec.Policy]; {
				case cellErr[r.Cell] != nil:
					oc = experiments.RunOutcome{Spec: r.Spec, Err: fmt.Errorf("cell config: %w", cellErr[r.Cell])}
				case t != nil && trainErr[t] != nil:
					oc = experiments.RunOutcome{Spec: r.Spec, Err: fmt.Errorf("training %s failed: %w", t.Dir, trainErr[t])}
				case b == nil:
					oc = experiments.RunOutcome{Spec: r.Spec, Err: ctx.Err()}
				default:
					oc = b.RunOne(ctx, s.cellOptions(r.Cell, o), r.Spec)
				}
				res.Outcomes[i] = oc
				mu.Lock()
				done++
				if o.Progress != nil {
					o.Progress(done, len(s.Runs), r, oc)
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for i := range s.Runs {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	var errs []error
	for i, oc := range res.Outcomes {
		if oc.Spec.Policy == "" { // never started
			res.Outcomes[i] = experiments.RunOutcome{Spec: s.Runs[i].Spec, Err: ctx.Err()}
			oc = res.Outcomes[i]
		}
		switch {
		case oc.Err != nil && ctx.Err() != nil && errors.Is(oc.Err, ctx.Err()):
			// interrupted: not a failure of the run
		case oc.Err != nil:
			res.Status.Failed++
			res.Status.Failures = append(res.Status.Failures, Failure{Dir: s.Runs[i].Dir(), Error: oc.Err.Error()})
			errs = append(errs, fmt.Errorf("%s: %w", s.Runs[i].Dir(), oc.Err))
		case oc.Skipped:
			res.Status.Reused++
		default:
			res.Status.Executed++
		}
	}
	for _, t := range s.Trainings {
		if err := trainErr[t]; err != nil && ctx.Err() == nil {
			errs = append(errs, fmt.Errorf("%s: %w", t.Dir, err))
		}
	}
	res.Cells = make([]*experiments.Result, len(s.Cells))
	for i, c := range s.Cells {
		if builders[i] == nil {
			if err := cellErr[c]; err != nil {
				errs = append(errs, fmt.Errorf("cell %s: %w", c.ID, err))
			}
			continue
		}
		var outs []experiments.RunOutcome
		for j, r := range s.Runs {
			if r.Cell == c {
				outs = append(outs, res.Outcomes[j])
			}
		}
		cr, err := builders[i].Finish(s.cellOptions(c, o), infos[i], outs, time.Since(start))
		if err != nil {
			errs = append(errs, fmt.Errorf("cell %s summary: %w", c.ID, err))
		}
		res.Cells[i] = cr
	}
	res.Status.WallS = time.Since(start).Seconds()
	if ctx.Err() != nil {
		res.Status.Interrupted = true
		errs = append(errs, ctx.Err())
	}
	if res.Status.Failures == nil {
		res.Status.Failures = []Failure{}
	}
	if err := framework.WriteJSONAtomic(filepath.Join(s.Root, StatusFile), res.Status); err != nil {
		errs = append(errs, err)
	}
	return res, errors.Join(errs...)
}

func (s *Sweep) cellOptions(c *CellPlan, o ExecOptions) experiments.Options {
	return experiments.Options{Root: c.Root, Version: o.Version}
}

// writePlan writes sweep.json and every cell's cell.json.
func (s *Sweep) writePlan(version string) error {
	if err := os.MkdirAll(s.Root, 0o755); err != nil {
		return fmt.Errorf("results directory: %w", err)
	}
	if err := framework.WriteJSONAtomic(filepath.Join(s.Root, InfoFile), s.Info(version)); err != nil {
		return err
	}
	for _, c := range s.Cells {
		if err := s.writeCell(c); err != nil {
			return err
		}
	}
	return nil
}

func (s *Sweep) writeCell(c *CellPlan) error {
	if err := os.MkdirAll(c.Root, 0o755); err != nil {
		return fmt.Errorf("cell folder: %w", err)
	}
	return framework.WriteJSONAtomic(filepath.Join(c.Root, CellFile), c.Cell)
}

// Trained reports whether the training finished: its train.json names the same policy
// and training hash and its checkpoint exists.
func (s *Sweep) Trained(t *Training) bool {
	var ti TrainInfo
	dir := filepath.Join(s.Root, t.Dir)
	if err := readJSON(filepath.Join(dir, TrainFile), &ti); err != nil || ti.Policy != t.Policy || ti.Hash != t.Hash {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, s.File.Train.CheckpointFile))
	return err == nil
}

// Train runs one training unless it finished before (reused). An unfinished training
// folder (interrupted) is removed and the training starts over. The trainer writes its
// files into the training folder; train.json is written last.
func (s *Sweep) Train(ctx context.Context, t *Training, o ExecOptions) (reused bool, err error) {
	if s.Trained(t) {
		return true, nil
	}
	dir := filepath.Join(s.Root, t.Dir)
	if err := os.RemoveAll(dir); err != nil {
		return false, fmt.Errorf("clear unfinished training: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("training folder: %w", err)
	}
	b, err := s.EvalBuilder(t.cell)
	if err != nil {
		return false, err
	}
	s.opts.Logger.Info("training", "policy", t.Policy, "dir", dir, "cells", len(t.Cells))
	var progress func(framework.TrainProgress)
	if o.TrainProgress != nil {
		progress = func(p framework.TrainProgress) { o.TrainProgress(t, p) }
	}
	start := time.Now()
	if err := b.TrainPolicy(ctx, t.Policy, dir, t.Hash, progress); err != nil {
		return false, err
	}
	ckpt := filepath.Join(dir, s.File.Train.CheckpointFile)
	if _, err := os.Stat(ckpt); err != nil {
		return false, fmt.Errorf("policy %s trained but wrote no %s in %s (set train.checkpoint_file in the sweep file)", t.Policy, s.File.Train.CheckpointFile, dir)
	}
	ti := TrainInfo{Policy: t.Policy, Hash: t.Hash, Cells: t.Cells, Checkpoint: s.File.Train.CheckpointFile, Version: o.Version,
		WallS: time.Since(start).Seconds()}
	if err := framework.WriteJSONAtomic(filepath.Join(dir, TrainFile), ti); err != nil {
		return false, err
	}
	return false, nil
}

// RunIndex runs evaluation run i alone, into the same folder and with the same outputs as
// inside a full sweep (what an Indexed Job's pod runs). It writes the plan files too. When
// the run's policy needs a training that has not finished it waits up to o.WaitTrain for
// another worker to finish it, then fails with experiments.ErrTrainingMissing.
func (s *Sweep) RunIndex(ctx context.Context, i int, o ExecOptions) (experiments.RunOutcome, error) {
	if i < 0 || i >= len(s.Runs) {
		return experiments.RunOutcome{}, fmt.Errorf("run index %d out of range: the sweep has %d runs (0–%d)", i, len(s.Runs), len(s.Runs)-1)
	}
	r := s.Runs[i]
	if err := s.writePlan(o.Version); err != nil {
		return experiments.RunOutcome{}, err
	}
	if t := r.Cell.Trainings[r.Spec.Policy]; t != nil {
		if err := s.waitTrained(ctx, t, o); err != nil {
			return experiments.RunOutcome{Spec: r.Spec, Err: err}, err
		}
	}
	b, err := s.EvalBuilder(r.Cell)
	if err != nil {
		return experiments.RunOutcome{Spec: r.Spec, Err: err}, err
	}
	if _, err := b.Prepare(s.cellOptions(r.Cell, o)); err != nil {
		return experiments.RunOutcome{Spec: r.Spec, Err: err}, err
	}
	oc := b.RunOne(ctx, s.cellOptions(r.Cell, o), r.Spec)
	return oc, oc.Err
}

// TrainIndex runs training i alone (what the training Job's pod runs).
func (s *Sweep) TrainIndex(ctx context.Context, i int, o ExecOptions) (reused bool, err error) {
	if i < 0 || i >= len(s.Trainings) {
		return false, fmt.Errorf("training index %d out of range: the sweep has %d trainings", i, len(s.Trainings))
	}
	if err := s.writePlan(o.Version); err != nil {
		return false, err
	}
	return s.Train(ctx, s.Trainings[i], o)
}

func (s *Sweep) waitTrained(ctx context.Context, t *Training, o ExecOptions) error {
	deadline := time.Now().Add(o.WaitTrain)
	poll := o.PollEvery
	if poll <= 0 {
		poll = 10 * time.Second
	}
	for !s.Trained(t) {
		if !time.Now().Before(deadline) {
			return fmt.Errorf("policy %s: %w in %s (run the training first: scalelab run-index %s --train --index %d)",
				t.Policy, experiments.ErrTrainingMissing, filepath.Join(s.Root, t.Dir), s.Path, t.Index)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(poll, time.Until(deadline))):
		}
	}
	return nil
}

package framework

import (
	"context"
	"fmt"
	"time"
)

// RunOptions configure one evaluation episode.
type RunOptions struct {
	// Duration is the episode length; Warmup the initial part excluded from KPIs.
	Duration time.Duration
	Warmup   time.Duration
	// Trajectory, when set, receives every decision.
	Trajectory *TrajectoryWriter
	// OnDecision, when set, is called after every decision (progress, metrics).
	OnDecision func(Decision)
}

// RunResult is the outcome of one episode.
type RunResult struct {
	KPIs    KPIs
	Latency *Histogram // the run's merged latency histogram (after warm-up)
	Totals  Totals
}

// RunEpisode runs the loop for one episode: the Runner of DESIGN.md. It resets the
// backend, steps until Duration has elapsed, records every decision and returns the KPIs
// computed from the ground-truth accounting after the warm-up.
func RunEpisode(ctx context.Context, l *Loop, ep Episode, o RunOptions) (RunResult, error) {
	if o.Duration <= 0 {
		return RunResult{}, fmt.Errorf("run duration must be positive, got %v", o.Duration)
	}
	l.Split = o.Warmup
	if _, err := l.Reset(ctx, ep); err != nil {
		return RunResult{}, err
	}
	var terms []string
	if l.Reward != nil {
		terms = l.Reward.Terms()
	}
	acc := NewKPIAccumulator(l.start.Add(o.Warmup), terms)
	for l.Elapsed() < o.Duration {
		d, err := l.Step(ctx)
		if err != nil {
			return RunResult{}, err
		}
		acc.Add(d)
		if o.Trajectory != nil {
			if err := o.Trajectory.Write(d, d.Time.Sub(l.start).Seconds()); err != nil {
				return RunResult{}, fmt.Errorf("record trajectory: %w", err)
			}
		}
		if o.OnDecision != nil {
			o.OnDecision(d)
		}
	}
	return RunResult{KPIs: acc.Finish(l.DisabledAt), Latency: acc.Histogram(), Totals: acc.Totals()}, nil
}

// LoopEnv is the gym-style Env around a Loop: Reset starts an episode built by Episode
// from the seed, Step applies the learner's action and advances one interval, and the
// episode is truncated once Duration has elapsed (autoscaling never terminates).
type LoopEnv struct {
	Loop     *Loop
	Episode  func(seed uint64) Episode
	Duration time.Duration
	EnvSpecs Specs
}

var _ Env = (*LoopEnv)(nil)

// Specs returns the observation and action specs.
func (e *LoopEnv) Specs() Specs { return e.EnvSpecs }

// Reset starts an episode.
func (e *LoopEnv) Reset(ctx context.Context, seed uint64) (Observation, error) {
	return e.Loop.Reset(ctx, e.Episode(seed))
}

// Step applies a and advances one decision interval.
func (e *LoopEnv) Step(ctx context.Context, a Action) (StepResult, error) {
	d, err := e.Loop.StepWith(ctx, a)
	if err != nil {
		return StepResult{}, err
	}
	return StepResult{
		Obs:       d.Next,
		Reward:    d.Reward,
		Truncated: e.Loop.Elapsed() >= e.Duration,
		Fallback:  d.Fallback,
		Terms:     d.Terms,
	}, nil
}

// Close closes the backend.
func (e *LoopEnv) Close() error { return e.Loop.Backend.Close() }

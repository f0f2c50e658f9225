package promexport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/sim"
)

// Clock is the wall clock the pacer follows. WallClock is the real one; tests inject a
// clock whose Wait returns at once.
type Clock interface {
	// Now is the present wall-clock time.
	Now() time.Time
	// Wait blocks until the clock reads until (or ctx ends).
	Wait(ctx context.Context, until time.Time) error
}

// WallClock is the system's clock.
type WallClock struct{}

// Now returns time.Now().
func (WallClock) Now() time.Time { return time.Now() }

// Wait sleeps until until.
func (WallClock) Wait(ctx context.Context, until time.Time) error {
	d := time.Until(until)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Realtime is a framework.Backend that runs a simulator paced at real time (times Speed)
// and publishes its state to an Exporter after every Step of simulated time. It is used
// from one goroutine (the loop's), like the simulator it wraps.
type Realtime struct {
	sim   *sim.Sim
	cfg   Config
	exp   *Exporter
	clock Clock
	log   *slog.Logger

	wall0   time.Time        // wall-clock time of the episode start (Reset)
	pending framework.Window // the simulator's windows cut since the loop's last Cut
	behind  bool             // a falling-behind warning was logged this episode
}

var (
	_ framework.Backend    = (*Realtime)(nil)
	_ framework.Accounting = (*Realtime)(nil)
)

// NewRealtime wraps s (whose episodes it then starts and advances) with the exporter's
// configuration; clock nil is the wall clock. The exporter is Exporter().
func NewRealtime(s *sim.Sim, cfg Config, clock Clock, logger *slog.Logger) (*Realtime, error) {
	if s == nil {
		return nil, errors.New("promexport: nil simulator")
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("promexport: %w", errors.Join(errs...))
	}
	if cfg.GPUInterval == 0 {
		cfg.GPUInterval = s.Scenario().Observation.GPUExporterInterval
		if cfg.GPUInterval%cfg.Step != 0 {
			return nil, fmt.Errorf("promexport: gpu_interval: the scenario's observation.gpu_exporter_interval %s is not a multiple of step %s; set gpu_interval",
				cfg.GPUInterval, cfg.Step)
		}
	}
	if clock == nil {
		clock = WallClock{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Realtime{sim: s, cfg: cfg, exp: newExporter(cfg, s.Scenario()), clock: clock, log: logger}, nil
}

// Sim returns the wrapped simulator (for the loop's collector and actuator).
func (r *Realtime) Sim() *sim.Sim { return r.sim }

// Exporter returns the exporter the backend publishes to.
func (r *Realtime) Exporter() *Exporter { return r.exp }

// Config returns the configuration with defaults resolved (the GPU interval).
func (r *Realtime) Config() Config { return r.cfg }

// Now is the simulator's (virtual) clock.
func (r *Realtime) Now() time.Time { return r.sim.Now() }

// WallTime returns the wall-clock time at which the simulation reaches virtual time v in
// the current episode.
func (r *Realtime) WallTime(v time.Time) time.Time {
	return r.wall0.Add(time.Duration(float64(v.Sub(framework.SimEpoch)) / r.cfg.Speed))
}

// VirtualTime returns the virtual time the simulation is due at wall-clock time w in the
// current episode.
func (r *Realtime) VirtualTime(w time.Time) time.Time {
	return framework.SimEpoch.Add(time.Duration(float64(w.Sub(r.wall0)) * r.cfg.Speed))
}

// Reset starts an episode on the simulator; its virtual start is now on the wall clock.
func (r *Realtime) Reset(ctx context.Context, ep framework.Episode) error {
	if err := r.sim.Reset(ctx, ep); err != nil {
		return err
	}
	r.wall0 = r.clock.Now()
	r.behind = false
	w := r.sim.Cut() // empty: the episode starts now
	r.pending = framework.Window{Start: w.Start, End: w.End, Latency: framework.NewHistogram()}
	r.exp.startEpisode(ep)
	r.exp.publish(r.sim)
	return nil
}

// Advance simulates d of virtual time in steps of Config.Step, each when the wall clock
// has reached it, publishing a snapshot after each. Steps end on the Step grid of the
// episode, so GPU utilisation samples fall on their interval's boundaries. When the
// machine cannot keep up it runs the steps back to back (and logs it once per episode).
func (r *Realtime) Advance(ctx context.Context, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("promexport: advance by %s", d)
	}
	step := r.cfg.Step
	now := r.sim.Now().Sub(framework.SimEpoch)
	target := now + d
	// Actions taken since the last step (replicas, batching) show at once.
	r.exp.publish(r.sim)
	for now < target {
		next := min((now/step+1)*step, target)
		due := r.WallTime(framework.SimEpoch.Add(next))
		if late := r.clock.Now().Sub(due); late > time.Second && !r.behind {
			r.behind = true
			r.log.Warn("sim-export: the simulation falls behind the wall clock; lower --speed", "behind", late.Round(time.Millisecond), "speed", r.cfg.Speed)
		}
		if err := r.clock.Wait(ctx, due); err != nil {
			return err
		}
		if err := r.sim.Advance(ctx, next-now); err != nil {
			return err
		}
		now = next
		w := r.sim.Cut()
		r.pending.End = w.End
		r.pending.Totals.Add(w.Totals)
		r.pending.Latency.Merge(w.Latency)
		r.exp.observe(w)
		r.exp.publish(r.sim)
	}
	return nil
}

// Accounting returns the backend itself: its Cut hands over the simulator's ground truth.
func (r *Realtime) Accounting() framework.Accounting { return r }

// Cut returns the simulator's accounting since the previous Cut (the windows the pacer cut
// at every step, merged, plus what happened since the last step) and starts a new window.
func (r *Realtime) Cut() framework.Window {
	w := r.sim.Cut()
	out := r.pending
	out.End = w.End
	out.Totals.Add(w.Totals)
	out.Latency.Merge(w.Latency)
	r.exp.observe(w)
	r.pending = framework.Window{Start: w.End, End: w.End, Latency: framework.NewHistogram()}
	return out
}

// Close closes the simulator.
func (r *Realtime) Close() error { return r.sim.Close() }

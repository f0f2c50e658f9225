package framework

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"time"
)

// Fallback supplies the command applied when a policy fails. Shadow is called with every
// observation so a stateful fallback (a shadow HPA) keeps a real history.
type Fallback interface {
	Shadow(ctx context.Context, obs Observation)
	Command(obs Observation) Command
	Name() string
}

// HoldFallback keeps the current replicas: the default fallback.
type HoldFallback struct{}

// Shadow does nothing.
func (HoldFallback) Shadow(context.Context, Observation) {}

// Command changes nothing.
func (HoldFallback) Command(Observation) Command { return Command{} }

// Name is "hold".
func (HoldFallback) Name() string { return "hold" }

// PolicyFallback runs a replica-emitting policy (the HPA) as a shadow on every step and
// applies its latest recommendation when the primary policy fails.
type PolicyFallback struct {
	Policy   Policy
	TypeName string
	last     *int
}

// Shadow calls the shadow policy and keeps its recommendation.
func (f *PolicyFallback) Shadow(ctx context.Context, obs Observation) {
	a, err := f.Policy.Act(ctx, obs)
	if err != nil || len(a.Values) != 1 || !Finite(a.Values) {
		return
	}
	r := int(math.Round(a.Values[0]))
	f.last = &r
}

// Command sets the shadow's last recommendation (or holds when it has none yet).
func (f *PolicyFallback) Command(Observation) Command {
	if f.last == nil {
		return Command{}
	}
	return Command{Replicas: IntPtr(*f.last)}
}

// Name is the shadow policy's type name.
func (f *PolicyFallback) Name() string { return f.TypeName }

// ErrPolicyDisabled is the fallback reason once a policy has failed too often.
var ErrPolicyDisabled = errors.New("policy disabled after repeated failures")

// Loop is one run's wired parts and the step function shared by the Runner (evaluation,
// agents) and the Env (training). A step at time t: observe oₜ → policy acts → validation
// and fallback → guardrails → actuate → Advance(Δ) → observe oₜ₊Δ; the reward covers
// (t, t+Δ] and is computed from the backend's ground-truth accounting.
type Loop struct {
	Backend   Backend
	Collector Collector
	Design    ActionDesign
	Actuator  Actuator
	Reward    Reward
	Policy    Policy
	Fallback  Fallback
	Guard     *Guardrails
	// Interval is the decision interval Δ (a Periodic policy's period, else the control
	// interval).
	Interval time.Duration
	// Deadline is the wall-clock deadline of one Act call (0 = none).
	Deadline time.Duration
	// MaxFailures disables the policy after this many consecutive failures (0 = never).
	MaxFailures int
	// SLO is passed to reward terms.
	SLO time.Duration
	// Split is an optional offset from the episode start (the warm-up boundary) at which a
	// step's accounting window is cut in two, so KPIs can exclude the warm-up exactly.
	Split time.Duration

	obs         Observation
	start       time.Time
	consecutive int
	disabled    bool
	pending     chan struct{} // closed when an abandoned (timed-out) Act call returns
	// Counters over the episode.
	Failures         int
	DeadlineOverruns int
	DisabledAt       time.Duration // offset when disabled (−1 if never)
}

// Decision is what happened at one step.
type Decision struct {
	Time time.Time
	// Obs is the observation the decision used.
	Obs Observation
	// Action is the policy's requested action (nil Values when the policy was not asked
	// or failed to answer).
	Action Action
	// Command is the command after fallback and guardrails.
	Command Command
	Applied Applied
	Guard   GuardResult
	// Fallback is true when the fallback replaced the policy's action; Reason says why.
	Fallback bool
	Reason   string
	Deadline bool // the failure was a deadline overrun
	Disabled bool // the policy is disabled for the rest of the run
	// Windows are the accounting windows of the step interval (two when Split cut it).
	Windows []Window
	Terms   []float64
	Reward  float64
	// PrevReplicas is the desired replicas before the step's command.
	PrevReplicas int
	Next         Observation
}

// Reset starts an episode on the backend and returns the first observation.
func (l *Loop) Reset(ctx context.Context, ep Episode) (Observation, error) {
	if err := l.Backend.Reset(ctx, ep); err != nil {
		return Observation{}, fmt.Errorf("reset backend: %w", err)
	}
	l.start = l.Backend.Now()
	l.consecutive, l.disabled = 0, false
	l.Failures, l.DeadlineOverruns, l.DisabledAt = 0, 0, -1
	if l.Guard != nil {
		l.Guard.Reset()
	}
	if r, ok := l.Policy.(Resetter); ok && l.Policy != nil {
		r.Reset()
	}
	if pf, ok := l.Fallback.(*PolicyFallback); ok {
		if r, ok := pf.Policy.(Resetter); ok {
			r.Reset()
		}
		pf.last = nil
	}
	l.Backend.Accounting().Cut() // start the first window at the episode start
	obs, err := l.Collector.Collect(ctx)
	if err != nil {
		return Observation{}, fmt.Errorf("collect: %w", err)
	}
	l.obs = obs
	return obs, nil
}

// Observation returns the latest observation.
func (l *Loop) Observation() Observation { return l.obs }

// Elapsed is the time since the episode started.
func (l *Loop) Elapsed() time.Duration { return l.Backend.Now().Sub(l.start) }

// Step asks the policy for an action and executes one step.
func (l *Loop) Step(ctx context.Context) (Decision, error) {
	if err := ctx.Err(); err != nil {
		return Decision{}, err
	}
	var (
		a     Action
		err   error
		timed bool
		asked bool
	)
	if !l.disabled {
		asked = true
		a, err, timed = l.act(ctx, l.obs)
	}
	return l.execute(ctx, a, asked, err, timed)
}

// StepWith executes one step with an action supplied by the caller (a learner).
func (l *Loop) StepWith(ctx context.Context, a Action) (Decision, error) {
	if err := ctx.Err(); err != nil {
		return Decision{}, err
	}
	return l.execute(ctx, a, true, nil, false)
}

// act asks the policy with the wall-clock deadline. A call abandoned at its deadline keeps
// running in its goroutine (a policy is never called concurrently with itself): the next
// decision first waits for it within its own deadline and fails only if it is still running.
func (l *Loop) act(ctx context.Context, obs Observation) (a Action, err error, timedOut bool) {
	if l.Deadline <= 0 {
		a, err = safeAct(ctx, l.Policy, obs)
		return a, err, false
	}
	cctx, cancel := context.WithTimeout(ctx, l.Deadline)
	defer cancel()
	if l.pending != nil {
		select {
		case <-l.pending:
			l.pending = nil
		case <-cctx.Done():
			if ctx.Err() != nil {
				return Action{}, ctx.Err(), false
			}
			return Action{}, errors.New("previous decision still running past its deadline"), true
		}
	}
	type result struct {
		a   Action
		err error
	}
	ch := make(chan result, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		a, err := safeAct(cctx, l.Policy, obs)
		ch <- result{a, err}
	}()
	select {
	case r := <-ch:
		// A policy that gives up on its context deadline (a gRPC plugin, a WASM host) is a
		// deadline overrun too.
		return r.a, r.err, r.err != nil && errors.Is(r.err, context.DeadlineExceeded) && ctx.Err() == nil
	case <-cctx.Done():
		if ctx.Err() != nil {
			return Action{}, ctx.Err(), false
		}
		l.pending = done
		return Action{}, fmt.Errorf("decision exceeded its deadline of %v", l.Deadline), true
	}
}

func safeAct(ctx context.Context, p Policy, obs Observation) (a Action, err error) {
	defer func() {
		if r := recover(); r != nil {
			// The reason (recorded in the trajectory) stays one deterministic line; the stack,
			// which names goroutines and addresses, goes to the log.
			slog.Warn("policy panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("policy panicked: %v", r)
		}
	}()
	return p.Act(ctx, obs)
}

func (l *Loop) execute(ctx context.Context, a Action, asked bool, actErr error, timedOut bool) (Decision, error) {
	if ctx.Err() != nil {
		return Decision{}, ctx.Err()
	}
	now := l.Backend.Now()
	d := Decision{Time: now, Obs: l.obs, Action: a}
	cur := l.obs.Cluster.Replicas.Desired
	d.PrevReplicas = cur
	if l.Fallback != nil {
		l.Fallback.Shadow(ctx, l.obs)
	}
	var cmd Command
	failure := actErr
	if !asked {
		failure = ErrPolicyDisabled
	}
	if failure == nil {
		if err := l.Design.Space().Contains(a); err != nil {
			failure = fmt.Errorf("invalid action: %w", err)
		} else if c, err := safeTranslate(l.Design, a, l.obs.Cluster); err != nil {
			failure = fmt.Errorf("translate action: %w", err)
		} else {
			cmd = c
		}
	}
	if failure != nil {
		d.Fallback, d.Reason, d.Deadline = true, failure.Error(), timedOut
		if asked {
			l.Failures++
			l.consecutive++
			if timedOut {
				l.DeadlineOverruns++
			}
			if l.MaxFailures > 0 && l.consecutive >= l.MaxFailures && !l.disabled {
				l.disabled = true
				l.DisabledAt = now.Sub(l.start)
			}
		}
		if l.Fallback != nil {
			cmd = l.Fallback.Command(l.obs)
		} else {
			cmd = Command{}
		}
	} else {
		l.consecutive = 0
	}
	d.Disabled = l.disabled
	if cmd.Replicas != nil && l.Guard != nil {
		d.Guard = l.Guard.Check(now, cur, *cmd.Replicas)
		cmd.Replicas = IntPtr(d.Guard.Allowed)
	} else {
		d.Guard = GuardResult{Requested: cur, Allowed: cur}
	}
	d.Command = cmd
	if l.Guard != nil && l.Guard.DryRun {
		d.Applied = Applied{Replicas: cur, DryRun: true, Note: "dry run"}
	} else {
		ap, err := l.Actuator.Apply(ctx, cmd)
		if err != nil {
			return d, fmt.Errorf("actuate at %v: %w", now.Sub(l.start), err)
		}
		d.Applied = ap
		if l.Guard != nil {
			l.Guard.Commit(now, cur, ap.Replicas)
		}
	}
	// Advance, cutting the accounting window at the split point if it falls inside.
	elapsed := now.Sub(l.start)
	if l.Split > elapsed && l.Split < elapsed+l.Interval {
		first := l.Split - elapsed
		if err := l.Backend.Advance(ctx, first); err != nil {
			return d, fmt.Errorf("advance: %w", err)
		}
		d.Windows = append(d.Windows, l.Backend.Accounting().Cut())
		if err := l.Backend.Advance(ctx, l.Interval-first); err != nil {
			return d, fmt.Errorf("advance: %w", err)
		}
	} else if err := l.Backend.Advance(ctx, l.Interval); err != nil {
		return d, fmt.Errorf("advance: %w", err)
	}
	d.Windows = append(d.Windows, l.Backend.Accounting().Cut())
	if l.Reward != nil {
		info := StepInfo{
			Window:       MergeWindows(d.Windows),
			Interval:     l.Interval,
			SLO:          l.SLO,
			Applied:      d.Applied,
			PrevReplicas: cur,
			Command:      cmd,
		}
		if l.Guard != nil {
			info.MinReplicas, info.MaxReplicas = l.Guard.Min, l.Guard.Max
		}
		d.Terms = l.Reward.Compute(info)
		d.Reward = Sum(d.Terms)
	}
	next, err := l.Collector.Collect(ctx)
	if err != nil {
		return d, fmt.Errorf("collect: %w", err)
	}
	d.Next = next
	l.obs = next
	if o, ok := l.Policy.(Observer); ok && asked && !d.Fallback {
		o.Observe(d.Reward, false)
	}
	return d, nil
}

// MergeWindows merges consecutive windows into one covering them all. The result's
// histogram is a new one when there are several windows.
func MergeWindows(ws []Window) Window {
	if len(ws) == 1 {
		return ws[0]
	}
	if len(ws) == 0 {
		return Window{}
	}
	out := Window{Start: ws[0].Start, End: ws[len(ws)-1].End, Latency: NewHistogram()}
	for _, w := range ws {
		out.Totals.Add(w.Totals)
		out.Latency.Merge(w.Latency)
	}
	return out
}

// safeTranslate turns a panic in an action design into an error (fallback for the step).
func safeTranslate(d ActionDesign, a Action, view ClusterView) (c Command, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("action design %s panicked: %v", d.Name(), r)
		}
	}()
	return d.Translate(a, view)
}

package framework_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/frameworktest"
)

const (
	interval = 10 * time.Second
	// deadline is the wall-clock deadline of one decision in deadline tests: short, so an
	// overrun costs the test little time.
	deadline = 20 * time.Millisecond
)

// TestMain discards the framework's log output (policy panics are logged with their stack).
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}

// TestPanicStackIsLogged: the stack of a panicking policy goes to the log, not into the
// recorded reason.
func TestPanicStackIsLogged(t *testing.T) {
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	defer slog.SetDefault(prev)
	l, _ := newLoop(frameworktest.PolicyFunc(func(context.Context, framework.Observation) (framework.Action, error) {
		panic("nil map write")
	}))
	ds, _ := run(t, l, episode(2, 1), framework.RunOptions{Duration: interval})
	if ds[0].Reason != "policy panicked: nil map write" {
		t.Errorf("reason %q, want one line without the stack", ds[0].Reason)
	}
	if out := buf.String(); !strings.Contains(out, "policy panicked") || !strings.Contains(out, "step_test.go") {
		t.Errorf("log %q, want the panic with its stack", out)
	}
}

// traffic returns a fake backend with 10 req/s at 20 ms each and known resource use.
func traffic() *frameworktest.Backend {
	return &frameworktest.Backend{
		ArrivalEvery: 100 * time.Millisecond, Latency: 20 * time.Millisecond,
		GPUBusyPerReplica: 0.3, CPUPerReplica: 0.5, CPURequestPerReplica: 1,
	}
}

// newLoop wires a fake setup with replica bounds [1, 5] around p.
func newLoop(p framework.Policy) (*framework.Loop, frameworktest.Setup) {
	s := frameworktest.NewSetup(traffic(), 1, 5)
	return s.Loop(p, interval), s
}

// episode starts with the given replicas; SLO 50 ms.
func episode(replicas int, seed uint64) framework.Episode {
	return framework.Episode{Seed: seed, InitialReplicas: replicas, SLO: 50 * time.Millisecond, Duration: time.Minute}
}

// run runs one 60 s episode (six 10 s decisions) and returns the decisions and result.
func run(t *testing.T, l *framework.Loop, ep framework.Episode, o framework.RunOptions) ([]framework.Decision, framework.RunResult) {
	t.Helper()
	var ds []framework.Decision
	if o.Duration == 0 {
		o.Duration = time.Minute
	}
	o.OnDecision = func(d framework.Decision) { ds = append(ds, d) }
	res, err := framework.RunEpisode(context.Background(), l, ep, o)
	if err != nil {
		t.Fatalf("RunEpisode: %v (a failing policy must not stop the run)", err)
	}
	return ds, res
}

// blocking returns a policy that blocks until the test ends, ignoring its context, and
// counts its calls.
func blocking(t *testing.T, calls *atomic.Int32) frameworktest.PolicyFunc {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	return func(context.Context, framework.Observation) (framework.Action, error) {
		calls.Add(1)
		<-release
		return framework.Action{Values: []float64{4}}, nil
	}
}

func action(v ...float64) framework.Action { return framework.Action{Values: v} }

// TestFallbackKeepsTheRunGoing runs six decisions with a policy that fails in one way every
// time: each step is marked with the reason, the hold fallback keeps the 2 replicas, and the
// run ends with its KPIs.
func TestFallbackKeepsTheRunGoing(t *testing.T) {
	tests := []struct {
		name     string
		policy   func(t *testing.T, calls *atomic.Int32) framework.Policy
		deadline time.Duration
		reason   string // in every step's Reason ("|" separates alternatives)
		first    string // in the first step's Reason
		timeout  bool   // steps are deadline overruns
	}{
		{name: "error", reason: "backend of the policy unreachable", policy: func(_ *testing.T, c *atomic.Int32) framework.Policy {
			return frameworktest.PolicyFunc(func(context.Context, framework.Observation) (framework.Action, error) {
				c.Add(1)
				return framework.Action{}, errors.New("backend of the policy unreachable")
			})
		}},
		{name: "NaN", reason: "invalid action: action [NaN] is not finite", policy: constant(math.NaN())},
		{name: "+Inf", reason: "not finite", policy: constant(math.Inf(1))},
		{name: "out of space", reason: "invalid action: action[0]=9 outside [1,5]", policy: constant(9)},
		{name: "below space", reason: "outside [1,5]", policy: constant(0.5)},
		{name: "wrong length", reason: "action has 2 values, space box expects 1", policy: constant(2, 3)},
		{name: "no values", reason: "action has 0 values", policy: constant()},
		{name: "panic", reason: "policy panicked: runtime error: index out of range [3] with length 0", policy: func(_ *testing.T, c *atomic.Int32) framework.Policy {
			return frameworktest.PolicyFunc(func(context.Context, framework.Observation) (framework.Action, error) {
				c.Add(1)
				var xs []float64
				return action(xs[3]), nil
			})
		}},
		{name: "panic under a deadline", deadline: time.Minute, reason: "policy panicked: boom", policy: func(_ *testing.T, c *atomic.Int32) framework.Policy {
			return frameworktest.PolicyFunc(func(context.Context, framework.Observation) (framework.Action, error) {
				c.Add(1)
				panic("boom")
			})
		}},
		{
			// The first call blocks past the deadline; later steps find it still running
			// and fail at once without a second goroutine.
			name: "blocks past the deadline", deadline: deadline, timeout: true,
			reason: "deadline|previous decision still running", first: "decision exceeded its deadline of 20ms",
			policy: func(t *testing.T, c *atomic.Int32) framework.Policy { return blocking(t, c) },
		},
		{
			// A policy that honours its context returns ctx.Err() when the deadline passes:
			// still an overrun, not an ordinary error.
			name: "honours the deadline's context", deadline: deadline, timeout: true,
			reason: "deadline|previous decision still running",
			policy: func(_ *testing.T, c *atomic.Int32) framework.Policy {
				return frameworktest.PolicyFunc(func(ctx context.Context, _ framework.Observation) (framework.Action, error) {
					c.Add(1)
					<-ctx.Done()
					return framework.Action{}, ctx.Err()
				})
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			l, s := newLoop(tc.policy(t, &calls))
			l.Deadline = tc.deadline
			ds, res := run(t, l, episode(2, 1), framework.RunOptions{})
			if len(ds) != 6 {
				t.Fatalf("%d decisions, want 6", len(ds))
			}
			for i, d := range ds {
				if !d.Fallback || d.Deadline != tc.timeout || d.Disabled {
					t.Errorf("step %d: fallback %v, deadline %v, disabled %v; want true, %v, false",
						i, d.Fallback, d.Deadline, d.Disabled, tc.timeout)
				}
				if !containsAny(d.Reason, tc.reason) {
					t.Errorf("step %d reason %q, want it to contain %q", i, d.Reason, tc.reason)
				}
				if d.Command.Replicas != nil || d.Applied.Replicas != 2 {
					t.Errorf("step %d: command %+v, applied %d; want hold at 2", i, d.Command, d.Applied.Replicas)
				}
			}
			if tc.first != "" && !strings.Contains(ds[0].Reason, tc.first) {
				t.Errorf("first reason %q, want %q", ds[0].Reason, tc.first)
			}
			if calls.Load() == 0 {
				t.Error("the policy was never asked")
			}
			if s.Backend.Replicas() != 2 {
				t.Errorf("backend at %d replicas, want 2 held", s.Backend.Replicas())
			}
			k := res.KPIs
			wantDeadline := 0
			if tc.timeout {
				wantDeadline = 6
			}
			if k.Decisions != 6 || k.FallbackSteps != 6 || k.DeadlineFallbacks != wantDeadline || k.PolicyDisabled {
				t.Errorf("KPIs: decisions %d, fallback %d, deadline %d, disabled %v; want 6, 6, %d, false",
					k.Decisions, k.FallbackSteps, k.DeadlineFallbacks, k.PolicyDisabled, wantDeadline)
			}
			// The KPIs are still produced: 600 arrivals at 20 ms in 60 s on 2 replicas.
			if k.Arrivals != 600 || k.MeanReplicas != 2 || math.Abs(k.MeanLatencyMS-20) > 1e-9 {
				t.Errorf("KPIs: arrivals %d, mean replicas %v, mean latency %v; want 600, 2, 20",
					k.Arrivals, k.MeanReplicas, k.MeanLatencyMS)
			}
			if l.Failures != 6 || (tc.timeout && l.DeadlineOverruns != 6) || l.DisabledAt != -1 {
				t.Errorf("loop: failures %d, overruns %d, disabled at %v", l.Failures, l.DeadlineOverruns, l.DisabledAt)
			}
		})
	}
}

func constant(v ...float64) func(*testing.T, *atomic.Int32) framework.Policy {
	return func(_ *testing.T, c *atomic.Int32) framework.Policy {
		return frameworktest.PolicyFunc(func(context.Context, framework.Observation) (framework.Action, error) {
			c.Add(1)
			return action(v...), nil
		})
	}
}

func containsAny(s, alternatives string) bool {
	for _, a := range strings.Split(alternatives, "|") {
		if strings.Contains(s, a) {
			return true
		}
	}
	return false
}

// script is a policy that answers call i with steps[i](ctx) (the last one repeats).
type script struct {
	steps []func(ctx context.Context) (framework.Action, error)
	calls atomic.Int32
}

func (s *script) Act(ctx context.Context, _ framework.Observation) (framework.Action, error) {
	i := int(s.calls.Add(1)) - 1
	if i >= len(s.steps) {
		i = len(s.steps) - 1
	}
	return s.steps[i](ctx)
}

func ok(v float64) func(context.Context) (framework.Action, error) {
	return func(context.Context) (framework.Action, error) { return action(v), nil }
}

func fail(msg string) func(context.Context) (framework.Action, error) {
	return func(context.Context) (framework.Action, error) { return framework.Action{}, errors.New(msg) }
}

// TestFallbackMixedFailures interleaves good answers with every kind of failure; only the
// failed steps fall back and the good ones apply.
func TestFallbackMixedFailures(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	p := &script{steps: []func(context.Context) (framework.Action, error){
		ok(3),
		fail("model not loaded"),
		ok(math.NaN()),
		ok(4),
		func(context.Context) (framework.Action, error) { panic("nil map") },
		func(context.Context) (framework.Action, error) { <-release; return action(1), nil },
	}}
	l, _ := newLoop(p)
	l.Deadline = deadline
	ds, res := run(t, l, episode(2, 1), framework.RunOptions{})
	want := []struct {
		fallback, deadline bool
		reason             string
		applied            int
	}{
		{false, false, "", 3},
		{true, false, "model not loaded", 3},
		{true, false, "not finite", 3},
		{false, false, "", 4},
		{true, false, "panicked: nil map", 4},
		{true, true, "exceeded its deadline", 4},
	}
	if len(ds) != len(want) {
		t.Fatalf("%d decisions, want %d", len(ds), len(want))
	}
	for i, w := range want {
		d := ds[i]
		if d.Fallback != w.fallback || d.Deadline != w.deadline || !strings.Contains(d.Reason, w.reason) ||
			d.Applied.Replicas != w.applied {
			t.Errorf("step %d: fallback %v deadline %v reason %q applied %d; want %v %v %q %d",
				i, d.Fallback, d.Deadline, d.Reason, d.Applied.Replicas, w.fallback, w.deadline, w.reason, w.applied)
		}
	}
	if k := res.KPIs; k.FallbackSteps != 4 || k.DeadlineFallbacks != 1 || k.ScaleEvents != 2 || k.PolicyDisabled {
		t.Errorf("KPIs: fallback %d, deadline %d, scale events %d, disabled %v; want 4, 1, 2, false",
			k.FallbackSteps, k.DeadlineFallbacks, k.ScaleEvents, k.PolicyDisabled)
	}
}

// TestPolicyDisabledAfterKFailures: with K = 3, three failures in a row disable the policy
// at the third decision (offset 20 s); it is not asked again and the rest of the run falls
// back, marked disabled.
func TestPolicyDisabledAfterKFailures(t *testing.T) {
	p := &script{steps: []func(context.Context) (framework.Action, error){fail("crash")}}
	l, _ := newLoop(p)
	l.MaxFailures = 3
	ds, res := run(t, l, episode(2, 1), framework.RunOptions{})
	if got := p.calls.Load(); got != 3 {
		t.Errorf("policy asked %d times, want 3 (not after being disabled)", got)
	}
	for i, d := range ds {
		if !d.Fallback || d.Disabled != (i >= 2) {
			t.Errorf("step %d: fallback %v disabled %v; want true, %v", i, d.Fallback, d.Disabled, i >= 2)
		}
		wantReason := "crash"
		if i >= 3 {
			wantReason = framework.ErrPolicyDisabled.Error()
		}
		if d.Reason != wantReason {
			t.Errorf("step %d reason %q, want %q", i, d.Reason, wantReason)
		}
	}
	if l.DisabledAt != 20*time.Second || l.Failures != 3 {
		t.Errorf("DisabledAt %v, failures %d; want 20s, 3", l.DisabledAt, l.Failures)
	}
	if k := res.KPIs; !k.PolicyDisabled || k.DisabledAtS != 20 || k.FallbackSteps != 6 {
		t.Errorf("KPIs: disabled %v at %v s, fallback steps %d; want true at 20 s, 6", k.PolicyDisabled, k.DisabledAtS, k.FallbackSteps)
	}

	// A new episode on the same loop gives the policy a fresh start.
	ds, res = run(t, l, episode(2, 1), framework.RunOptions{})
	if got := p.calls.Load(); got != 6 {
		t.Errorf("after Reset the policy was asked %d times in all, want 6", got)
	}
	if !ds[0].Fallback || ds[0].Disabled || !res.KPIs.PolicyDisabled {
		t.Errorf("second episode: first step %+v, disabled %v", ds[0].Reason, res.KPIs.PolicyDisabled)
	}
}

// TestDeadlineOverrunsDisable: a policy stuck past its deadline counts as failing at every
// step while it stays stuck, so K = 2 disables it at the second decision (10 s).
func TestDeadlineOverrunsDisable(t *testing.T) {
	var calls atomic.Int32
	l, _ := newLoop(blocking(t, &calls))
	l.Deadline, l.MaxFailures = deadline, 2
	ds, res := run(t, l, episode(2, 1), framework.RunOptions{})
	if calls.Load() != 1 {
		t.Errorf("policy asked %d times, want 1 (a stuck call is not stacked)", calls.Load())
	}
	if !ds[0].Deadline || !ds[1].Deadline || ds[2].Deadline {
		t.Errorf("deadline marks %v %v %v, want true true false (disabled steps are not overruns)",
			ds[0].Deadline, ds[1].Deadline, ds[2].Deadline)
	}
	if l.DeadlineOverruns != 2 || l.DisabledAt != interval {
		t.Errorf("overruns %d, disabled at %v; want 2, 10s", l.DeadlineOverruns, l.DisabledAt)
	}
	if k := res.KPIs; !k.PolicyDisabled || k.DisabledAtS != 10 || k.DeadlineFallbacks != 2 || k.FallbackSteps != 6 {
		t.Errorf("KPIs: disabled %v at %v, deadline %d, fallback %d; want true at 10, 2, 6",
			k.PolicyDisabled, k.DisabledAtS, k.DeadlineFallbacks, k.FallbackSteps)
	}
}

// TestSuccessResetsFailureCount: fail, fail, succeed, repeated, never reaches K = 3.
func TestSuccessResetsFailureCount(t *testing.T) {
	p := &script{}
	for i := 0; i < 6; i++ {
		if i%3 == 2 {
			p.steps = append(p.steps, ok(3))
		} else {
			p.steps = append(p.steps, fail("flaky"))
		}
	}
	l, _ := newLoop(p)
	l.MaxFailures = 3
	ds, res := run(t, l, episode(2, 1), framework.RunOptions{})
	if p.calls.Load() != 6 || l.DisabledAt != -1 || res.KPIs.PolicyDisabled || res.KPIs.DisabledAtS != -1 {
		t.Errorf("calls %d, disabled at %v, KPIs disabled %v at %v; want 6, -1, false, -1",
			p.calls.Load(), l.DisabledAt, res.KPIs.PolicyDisabled, res.KPIs.DisabledAtS)
	}
	if res.KPIs.FallbackSteps != 4 || ds[2].Fallback || ds[2].Applied.Replicas != 3 {
		t.Errorf("fallback steps %d, step 2 %+v; want 4 and step 2 applied", res.KPIs.FallbackSteps, ds[2])
	}
}

// shadow is a replica-emitting policy that recommends one replica more than it sees, and
// records what it saw and how often it was reset.
type shadow struct {
	seen   []int
	resets int
}

func (s *shadow) Act(_ context.Context, obs framework.Observation) (framework.Action, error) {
	s.seen = append(s.seen, obs.Cluster.Replicas.Desired)
	return action(float64(obs.Cluster.Replicas.Desired + 1)), nil
}

func (s *shadow) Reset() { s.resets++ }

// TestPolicyFallbackShadow: the shadow runs every step — also while the primary succeeds —
// and a failing step applies its latest recommendation (through the guardrails).
func TestPolicyFallbackShadow(t *testing.T) {
	// Primary: good (3), fails, fails, good (2), fails, fails.
	p := &script{steps: []func(context.Context) (framework.Action, error){
		ok(3), fail("x"), fail("x"), ok(2), fail("x"), fail("x")}}
	sh := &shadow{}
	l, _ := newLoop(p)
	l.Fallback = &framework.PolicyFallback{Policy: sh, TypeName: "hpa"}
	l.Guard = &framework.Guardrails{Min: 1, Max: 4}
	ds, res := run(t, l, episode(1, 1), framework.RunOptions{})
	// Desired before each step: 1, 3 (primary), 4 (shadow 3+1), 4 → 5 clamped to 4, 2
	// (primary), 3 (shadow 2+1). The shadow saw every one of them.
	wantSeen := []int{1, 3, 4, 4, 2, 3}
	if len(sh.seen) != 6 {
		t.Fatalf("shadow called %d times, want 6 (every step)", len(sh.seen))
	}
	for i := range wantSeen {
		if sh.seen[i] != wantSeen[i] {
			t.Fatalf("shadow saw %v, want %v", sh.seen, wantSeen)
		}
	}
	wantApplied := []int{3, 4, 4, 2, 3, 4}
	for i, d := range ds {
		if d.Applied.Replicas != wantApplied[i] {
			t.Errorf("step %d applied %d, want %d", i, d.Applied.Replicas, wantApplied[i])
		}
	}
	if !ds[2].Guard.Clamped || ds[2].Guard.Requested != 5 {
		t.Errorf("step 2 guard %+v, want the shadow's 5 clamped to 4", ds[2].Guard)
	}
	if res.KPIs.FallbackSteps != 4 || res.KPIs.ClampedSteps != 1 {
		t.Errorf("KPIs: fallback %d, clamped %d; want 4, 1", res.KPIs.FallbackSteps, res.KPIs.ClampedSteps)
	}
	if sh.resets != 1 || l.Fallback.Name() != "hpa" {
		t.Errorf("shadow reset %d times, fallback name %q; want 1, hpa", sh.resets, l.Fallback.Name())
	}
}

func TestPolicyFallbackCommand(t *testing.T) {
	ctx := context.Background()
	broken := frameworktest.PolicyFunc(func(context.Context, framework.Observation) (framework.Action, error) {
		return framework.Action{}, errors.New("no metrics")
	})
	f := &framework.PolicyFallback{Policy: broken, TypeName: "hpa"}
	if c := f.Command(framework.Observation{}); c.Replicas != nil {
		t.Errorf("no recommendation yet: command %+v, want hold", c)
	}
	f.Shadow(ctx, framework.Observation{})
	if c := f.Command(framework.Observation{}); c.Replicas != nil {
		t.Errorf("shadow failed: command %+v, want hold", c)
	}
	var next float64 = 2.6
	f.Policy = frameworktest.PolicyFunc(func(context.Context, framework.Observation) (framework.Action, error) {
		return action(next), nil
	})
	f.Shadow(ctx, framework.Observation{})
	if c := f.Command(framework.Observation{}); c.Replicas == nil || *c.Replicas != 3 {
		t.Errorf("command %+v, want 3 (2.6 rounded)", c)
	}
	// A NaN or malformed recommendation keeps the last good one.
	for _, bad := range []framework.Action{action(math.NaN()), action(1, 2), {}} {
		f.Policy = frameworktest.PolicyFunc(func(context.Context, framework.Observation) (framework.Action, error) {
			return bad, nil
		})
		f.Shadow(ctx, framework.Observation{})
		if c := f.Command(framework.Observation{}); c.Replicas == nil || *c.Replicas != 3 {
			t.Errorf("after bad recommendation %v: command %+v, want the last good 3", bad.Values, c)
		}
	}
	if c := (framework.HoldFallback{}).Command(framework.Observation{}); c != (framework.Command{}) {
		t.Errorf("hold fallback command %+v, want empty", c)
	}
}

// TestGuardrailsInLoop: the loop applies the guard's target, records clamps and limits, and
// dry-run decides without actuating.
func TestGuardrailsInLoop(t *testing.T) {
	tests := []struct {
		name    string
		guard   framework.Guardrails
		want    int // replicas applied at the first decision (policy asks 9 from 2)
		clamped bool
		limited bool
		dryRun  bool
	}{
		{"max clamp", framework.Guardrails{Min: 1, Max: 4}, 4, true, false, false},
		{"max step", framework.Guardrails{Min: 1, Max: 8, MaxStep: 2}, 4, false, true, false},
		{"bounds only ignores max step", framework.Guardrails{Min: 1, Max: 8, MaxStep: 2, BoundsOnly: true}, 8, true, false, false},
		{"dry run", framework.Guardrails{Min: 1, Max: 8, DryRun: true}, 2, true, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := frameworktest.NewSetup(traffic(), 0, 10) // wide action space: the guard decides
			g := tc.guard
			l := s.Loop(frameworktest.Replicas(9), interval)
			l.Guard = &g
			ds, res := run(t, l, episode(2, 1), framework.RunOptions{})
			d := ds[0]
			if d.Applied.Replicas != tc.want || d.Guard.Clamped != tc.clamped || d.Guard.Limited != tc.limited ||
				d.Applied.DryRun != tc.dryRun || d.Guard.Requested != 9 {
				t.Errorf("first step: applied %+v, guard %+v; want %d replicas, clamped %v, limited %v, dry run %v",
					d.Applied, d.Guard, tc.want, tc.clamped, tc.limited, tc.dryRun)
			}
			if tc.dryRun {
				if len(s.Actuator.Commands) != 0 || s.Backend.Replicas() != 2 || res.KPIs.ScaleEvents != 0 {
					t.Errorf("dry run actuated %d commands, backend at %d, %d scale events; want 0, 2, 0",
						len(s.Actuator.Commands), s.Backend.Replicas(), res.KPIs.ScaleEvents)
				}
				if d.Command.Replicas == nil || *d.Command.Replicas != 8 {
					t.Errorf("dry run command %+v, want the decided 8 recorded", d.Command)
				}
			}
		})
	}
}

// TestCooldownInLoop: with a 25 s up cooldown and 10 s decisions, a policy that always
// wants one more replica scales at 0 s and 30 s only (10 s and 20 s are inside the cooldown).
func TestCooldownInLoop(t *testing.T) {
	s := frameworktest.NewSetup(traffic(), 1, 10)
	up := frameworktest.PolicyFunc(func(_ context.Context, o framework.Observation) (framework.Action, error) {
		return action(float64(o.Cluster.Replicas.Desired + 1)), nil
	})
	l := s.Loop(up, interval)
	l.Guard = &framework.Guardrails{Min: 1, Max: 10, UpCooldown: 25 * time.Second}
	ds, res := run(t, l, episode(1, 1), framework.RunOptions{})
	want := []int{2, 2, 2, 3, 3, 3}
	for i, d := range ds {
		if d.Applied.Replicas != want[i] {
			t.Errorf("step %d applied %d, want %d", i, d.Applied.Replicas, want[i])
		}
		if lim := want[i] == d.PrevReplicas; d.Guard.Limited != lim || (lim && d.Guard.Reason != "up_cooldown") {
			t.Errorf("step %d guard %+v, want limited %v by up_cooldown", i, d.Guard, lim)
		}
	}
	if res.KPIs.ScaleEvents != 2 || res.KPIs.LimitedSteps != 4 {
		t.Errorf("scale events %d, limited steps %d; want 2, 4", res.KPIs.ScaleEvents, res.KPIs.LimitedSteps)
	}
}

// observer is a policy that records the rewards it is told.
type observer struct{ rewards []float64 }

func (o *observer) Act(_ context.Context, obs framework.Observation) (framework.Action, error) {
	if obs.Cluster.Replicas.Desired == 3 {
		return action(math.NaN()), nil // the step after scaling fails
	}
	return action(3), nil
}

func (o *observer) Observe(r float64, _ bool) { o.rewards = append(o.rewards, r) }

// TestObserverSkipsFallbackSteps: an online learner is told the reward of its own steps
// only, never of a step the fallback decided.
func TestObserverSkipsFallbackSteps(t *testing.T) {
	p := &observer{}
	l, _ := newLoop(p)
	// Reward = −replicas applied.
	l.Reward = framework.NewWeightedReward([]framework.WeightedTerm{{Name: "cost", Weight: -1,
		Term: frameworktest.RewardTermFunc(func(s framework.StepInfo) float64 { return float64(s.Applied.Replicas) })}})
	ds, _ := run(t, l, episode(2, 1), framework.RunOptions{Duration: 20 * time.Second})
	if len(ds) != 2 || ds[0].Fallback || !ds[1].Fallback {
		t.Fatalf("decisions %d, fallback %v %v; want 2, false, true", len(ds), ds[0].Fallback, ds[1].Fallback)
	}
	if len(p.rewards) != 1 || p.rewards[0] != -3 {
		t.Errorf("observed rewards %v, want [-3]", p.rewards)
	}
}

func TestStepStopsOnContextCancel(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := frameworktest.PolicyFunc(func(context.Context, framework.Observation) (framework.Action, error) {
		cancel() // the user interrupts while the policy is deciding
		<-release
		return action(3), nil
	})
	l, s := newLoop(p)
	l.Deadline = time.Minute
	_, err := framework.RunEpisode(ctx, l, episode(2, 1), framework.RunOptions{Duration: time.Minute})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("RunEpisode after cancel: %v, want context.Canceled", err)
	}
	if len(s.Actuator.Commands) != 0 || len(s.Backend.Advances) != 0 {
		t.Errorf("after cancel: %d commands, %d advances; want none", len(s.Actuator.Commands), len(s.Backend.Advances))
	}
}

func TestActuatorErrorStopsTheRun(t *testing.T) {
	l, s := newLoop(frameworktest.Replicas(3))
	s.Actuator.Err = errors.New("apiserver unavailable")
	_, err := framework.RunEpisode(context.Background(), l, episode(2, 1), framework.RunOptions{Duration: time.Minute})
	if err == nil || !errors.Is(err, s.Actuator.Err) || !strings.Contains(err.Error(), "actuate at 0s") {
		t.Errorf("RunEpisode with a broken actuator: %v, want the actuator's error wrapped with the time", err)
	}
}

func TestRunEpisodeErrors(t *testing.T) {
	l, s := newLoop(frameworktest.Replicas(3))
	if _, err := framework.RunEpisode(context.Background(), l, episode(2, 1), framework.RunOptions{}); err == nil {
		t.Error("zero duration: nil error")
	}
	s.Collector.Err = errors.New("scrape failed")
	_, err := framework.RunEpisode(context.Background(), l, episode(2, 1), framework.RunOptions{Duration: time.Minute})
	if !errors.Is(err, s.Collector.Err) {
		t.Errorf("collector error: %v, want it wrapped", err)
	}
	s.Collector.Err = nil
	s.Backend.AdvanceErr = errors.New("simulator diverged")
	_, err = framework.RunEpisode(context.Background(), l, episode(2, 1), framework.RunOptions{Duration: time.Minute})
	if !errors.Is(err, s.Backend.AdvanceErr) {
		t.Errorf("advance error: %v, want it wrapped", err)
	}
}

package wasm

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/scalelab/scalelab/framework"
)

// behaveConfig is the config of the Go test guest (testdata/guests/behave): the default
// on-disk compilation cache, so a Go guest compiles once per machine rather than per run.
func behaveConfig(t testing.TB) Config {
	c := *Defaults()
	c.Module = buildGuest(t, "testdata/guests/behave")
	c.MemoryLimitMB = 32
	c.CallDeadline = 5 * time.Second
	return c
}

// boxSpecs are specs with the named features and a Box action space of dim dimensions.
func boxSpecs(dim int, features ...string) framework.Specs {
	s := discreteSpecs(1, features...)
	low, high := make([]float64, dim), make([]float64, dim)
	for i := range high {
		high[i] = 1
	}
	s.Action = framework.ActionSpace{Kind: framework.Box, Low: low, High: high}
	s.ActionDesign = "replicas"
	return s
}

func TestGoGuestEchoAndMask(t *testing.T) {
	p := newPolicy(t, behaveConfig(t), boxSpecs(2, "echo", "y"), 1)
	ctx := context.Background()
	a, err := p.Act(ctx, obsOf(0.75, 0.25))
	if err != nil || !sameBits(a.Values, []float64{0.75, 0.75}) {
		t.Fatalf("valid obs[0]: %v %v, want [0.75 0.75]", a.Values, err)
	}
	// An invalid value reaches the guest as invalid (the guest answers −1), whatever
	// number the collector left in Values.
	a, err = p.Act(ctx, framework.Observation{Values: []float64{123, 0.25}, Valid: []bool{false, true}})
	if err != nil || !sameBits(a.Values, []float64{-1, -1}) {
		t.Fatalf("invalid obs[0]: %v %v, want [-1 -1]", a.Values, err)
	}
	if _, err := p.Act(ctx, obsOf(1)); err == nil || !strings.Contains(err.Error(), "observation has 1 values") {
		t.Fatalf("short observation: %v, want a length error", err)
	}
}

func TestGoGuestObserveAndReset(t *testing.T) {
	p := newPolicy(t, behaveConfig(t), boxSpecs(3, "count"), 1)
	ctx := context.Background()
	act := func() []float64 {
		t.Helper()
		a, err := p.Act(ctx, obsOf(0))
		if err != nil {
			t.Fatal(err)
		}
		return a.Values
	}
	act()
	p.Observe(0.5, false)
	act()
	p.Observe(0.25, true)
	// Third act since the start; rewards 0.5 + 0.25; two observe calls.
	if got := act(); !sameBits(got, []float64{3, 0.75, 2}) {
		t.Fatalf("after 3 acts and 2 observes: %v, want [3 0.75 2]", got)
	}
	p.Reset()
	if got := act(); got[0] != 1 {
		t.Fatalf("first act after Reset counts %v, want 1", got[0])
	}
}

func TestGoGuestRandomIsSeeded(t *testing.T) {
	draw := func(seed uint64) []float64 {
		p := newPolicy(t, behaveConfig(t), boxSpecs(4, "rand"), seed)
		var out []float64
		for i := 0; i < 3; i++ {
			a, err := p.Act(context.Background(), obsOf(0))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, a.Values...)
		}
		return out
	}
	a, b, c := draw(7), draw(7), draw(8)
	if !sameBits(a, b) {
		t.Fatalf("seed 7 twice: %v and %v differ", a, b)
	}
	if sameBits(a, c) {
		t.Fatalf("seeds 7 and 8 gave the same draws %v", a)
	}
}

func TestGoGuestClockIsDeterministic(t *testing.T) {
	read := func() []float64 {
		p := newPolicy(t, behaveConfig(t), boxSpecs(2, "clock"), 1)
		a, err := p.Act(context.Background(), obsOf(0))
		if err != nil {
			t.Fatal(err)
		}
		return a.Values
	}
	a, b := read(), read()
	if !sameBits(a, b) {
		t.Fatalf("two instances read different clocks: %v and %v", a, b)
	}
	epoch := float64(framework.SimEpoch.UnixMilli())
	if a[0] < epoch || a[0] > epoch+float64(time.Hour.Milliseconds()) {
		t.Fatalf("wall clock %v ms, want within an hour after SimEpoch (%v ms)", a[0], epoch)
	}
}

func TestGoGuestSleepIsVirtual(t *testing.T) {
	// The guest sleeps 10 s; with a 5 s deadline a real sleep would fail as a deadline.
	p := newPolicy(t, behaveConfig(t), boxSpecs(1, "sleep"), 1)
	if a, err := p.Act(context.Background(), obsOf(0)); err != nil || a.Values[0] != 1 {
		t.Fatalf("sleeping guest: %v %v", a.Values, err)
	}
}

func TestGoGuestSandbox(t *testing.T) {
	// The guest tries the environment, the file system and the network and fails the
	// decision if any is reachable.
	p := newPolicy(t, behaveConfig(t), boxSpecs(1, "sandbox"), 1)
	if _, err := p.Act(context.Background(), obsOf(0)); err != nil {
		t.Fatalf("sandbox leak: %v", err)
	}
}

func TestGoGuestFailures(t *testing.T) {
	cases := []struct {
		mode           string
		deadline       time.Duration
		want           error
		msg            string
		reinstantiates bool
	}{
		{"loop", 300 * time.Millisecond, ErrDeadline, "scalelab_act did not return within 300ms", true},
		{"oom", 30 * time.Second, ErrOutOfMemory, "of its 32 MiB limit", true},
		{"panic", 5 * time.Second, ErrGuest, "scalelab_act returned status -1 (error): Act panicked: boom", false},
		{"exit", 5 * time.Second, ErrExit, "guest exited with code 3 in scalelab_act", true},
		// Go's runtime aborts a fatal error with an unreachable trap after printing it.
		{"deadlock", 5 * time.Second, ErrTrap, "guest stderr: fatal error: all goroutines are asleep - deadlock! | goroutine 1 [chan receive]:", true},
	}
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			cfg := behaveConfig(t)
			cfg.CallDeadline = tc.deadline
			p := newPolicy(t, cfg, boxSpecs(1, tc.mode), 1)
			_, err := p.Act(context.Background(), obsOf(0))
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want %v saying %q", err, tc.want, tc.msg)
			}
			checkPrintable(t, err.Error())
			t.Log(err)
			if tc.want == ErrDeadline && !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("a deadline error should match context.DeadlineExceeded: %v", err)
			}
			wantInst := 1
			if tc.reinstantiates {
				wantInst = 2
			}
			// The next call works on a fresh instance (and fails the same way).
			if _, err := p.Act(context.Background(), obsOf(0)); !errors.Is(err, tc.want) {
				t.Fatalf("second call: %v", err)
			}
			if st := p.Stats(); st.Instantiations != wantInst {
				t.Fatalf("stats %+v, want %d instantiations", st, wantInst)
			}
		})
	}
}

func TestGoGuestInitFailures(t *testing.T) {
	cases := []struct {
		mode string
		want error
		msg  string
	}{
		{"initfail", ErrGuest, "scalelab_init returned status -4 (unsupported): unsupported: this guest refuses every spec"},
		{"initloop", ErrDeadline, "scalelab_init did not return within 300ms"},
	}
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			cfg := behaveConfig(t)
			cfg.CallDeadline = 300 * time.Millisecond
			p, err := New(context.Background(), cfg, Options{Logger: quietLogger})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if err := p.Init(boxSpecs(1, tc.mode)); !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Init: %v, want %v saying %q", err, tc.want, tc.msg)
			}
		})
	}
}

func TestRunnerDeadlineStopsTheGuest(t *testing.T) {
	// The runner's own deadline (the policy's deadline key) arrives on ctx; the host stops
	// the guest at it even when call_deadline is longer.
	cfg := behaveConfig(t)
	cfg.CallDeadline = time.Minute
	p := newPolicy(t, cfg, boxSpecs(1, "loop"), 1)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := p.Act(ctx, obsOf(0)); !errors.Is(err, ErrDeadline) {
		t.Fatalf("error %v, want ErrDeadline", err)
	}
}

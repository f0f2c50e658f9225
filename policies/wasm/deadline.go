package wasm

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// bound is the time limit of one operation on the guest (a decision, an init, an
// observe): the caller's context, whose cancellation and deadline stop the guest, and the
// host's own limit folded into deadline. Computing it creates no context, timer or
// goroutine: the instrumented guest's checks (meter.go) compare the clock themselves.
type bound struct {
	ctx context.Context
	// deadline is the earlier of ctx's deadline and the host's limit; zero = none.
	deadline time.Time
	// budget is the time the operation had when it started (0 = unbounded), for messages.
	budget time.Duration
}

// newBound bounds an operation by ctx and, when limit > 0, by limit from now.
func newBound(ctx context.Context, limit time.Duration) bound {
	b := bound{ctx: ctx}
	var now time.Time
	if limit > 0 {
		now = time.Now()
		b.deadline = now.Add(limit)
	}
	if dl, ok := ctx.Deadline(); ok && (b.deadline.IsZero() || dl.Before(b.deadline)) {
		b.deadline = dl
	}
	if !b.deadline.IsZero() {
		if now.IsZero() {
			now = time.Now()
		}
		b.budget = b.deadline.Sub(now)
	}
	return b
}

// meter holds the bound of the call in progress on one instance, for the checks the
// instrumented guest makes (meterCheck). It is armed before every call into the guest and
// read by the checks on the same goroutine; closing is the policy's flag, set by Close from
// any goroutine.
type meter struct {
	closing *atomic.Bool
	b       bound
	// checks counts the checks made (the guest's calls of scalelab_meter.check).
	checks int64
}

// meterKey is the context key of an instance's meter.
type meterKey struct{}

// stopCode returns the exit code that ends the call, or false to let it run: the policy is
// closing (ExitCodeContextCanceled, which classify reports as ErrClosed while closing),
// the caller's context is done, or the deadline passed. With readClock false — the check
// before a call, which spares a clock reading — the bound's deadline counts as passed only
// when the bound had no time left when it was made: a deadline passing later is caught by
// the guest's own checks, and the caller's context reports its deadline itself.
func (m *meter) stopCode(readClock bool) (uint32, bool) {
	switch {
	case m.closing.Load():
		return sys.ExitCodeContextCanceled, true
	case m.b.ctx != nil && m.b.ctx.Err() != nil:
		if errors.Is(m.b.ctx.Err(), context.DeadlineExceeded) {
			return sys.ExitCodeDeadlineExceeded, true
		}
		return sys.ExitCodeContextCanceled, true
	case m.b.deadline.IsZero():
		return 0, false
	case readClock && !time.Now().Before(m.b.deadline), !readClock && m.b.budget <= 0:
		return sys.ExitCodeDeadlineExceeded, true
	}
	return 0, false
}

// meterCheck is scalelab_meter.check, the host function the instrumented guest calls when
// its instruction budget runs out: it stops the guest by panicking with a *sys.ExitError,
// which wazero unwinds and returns from the call (as WASI proc_exit does).
func meterCheck(ctx context.Context, _ api.Module, _ []uint64) {
	m, ok := ctx.Value(meterKey{}).(*meter)
	if !ok {
		return
	}
	m.checks++
	if code, stop := m.stopCode(true); stop {
		panic(sys.NewExitError(code))
	}
}

// instantiateMeter adds the scalelab_meter host module to a runtime that runs
// instrumented modules.
func instantiateMeter(ctx context.Context, rt wazero.Runtime) error {
	_, err := rt.NewHostModuleBuilder(meterModule).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(meterCheck), nil, nil).
		WithName(meterFunc).
		Export(meterFunc).
		Instantiate(ctx)
	if err != nil {
		return fmt.Errorf("instantiate %s: %w", meterModule, err)
	}
	return nil
}

package wasm

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/scalelab/scalelab/framework"
)

// Policy runs a WebAssembly policy module (ABI v1) in a wazero sandbox. It implements
// framework.Policy, Initializer, Resetter, Observer and io.Closer.
//
// Life cycle of the guest instance:
//
//	        New                      Init(specs)
//	(none) ─────► instantiated ───────────────────► ready ◄──────────────┐
//	                                                  │  act/observe/reset │ ok, or a guest
//	                                                  ├────────────────────┘ error status
//	                        trap, exit, deadline, OOM │
//	                                                  ▼
//	                                          (none): failures++ ── failures ≥ max_failures ──► disabled
//	                                                  │
//	                        next Act: instantiate + init with the same spec ──► ready
//
// A guest error status, a wrong output length and NaN/Inf outputs leave the instance in
// place (the sandbox is intact); Act returns the error and the runner's fallback acts. A
// trap, a proc_exit, a deadline overrun or running out of memory discards the instance;
// the next Act instantiates a fresh one and calls init again (guest state is lost).
// After max_failures such failures every call returns ErrDisabled.
type Policy struct {
	name   string
	cfg    Config
	module *Module
	logger *slog.Logger
	seed   uint64
	rand   io.Reader

	mu       sync.Mutex
	inst     *instance
	spec     []byte // the encoded spec; nil until Init
	lay      layout
	failures int
	disabled error
	closed   bool
	stats    Stats

	// live is the current instance, readable without mu so Close can close it under an
	// uninterruptible call.
	live    atomic.Pointer[instance]
	closing atomic.Bool
}

var (
	_ framework.Policy      = (*Policy)(nil)
	_ framework.Initializer = (*Policy)(nil)
	_ framework.Resetter    = (*Policy)(nil)
	_ framework.Observer    = (*Policy)(nil)
	_ io.Closer             = (*Policy)(nil)
)

// Stats counts what happened to a policy's guest.
type Stats struct {
	// Instantiations counts instances created, the first included.
	Instantiations int
	// Failures counts traps, exits, deadline overruns, out-of-memory and failed
	// instantiations (the events max_failures limits).
	Failures int
	// Acts counts Act calls that reached the guest.
	Acts int64
	// Disabled is true once max_failures was reached.
	Disabled bool
	// LastFailure is the message of the latest failure.
	LastFailure string
}

// Options are a policy's context outside its config.
type Options struct {
	// Name is the policy's name in config (for logs and errors).
	Name string
	// BaseDir resolves a relative module path.
	BaseDir string
	// Seed seeds the guest's random source (WASI random_get) and is passed in the spec.
	Seed uint64
	// Logger receives failure and re-instantiation events; nil uses slog.Default().
	Logger *slog.Logger
}

// New compiles the module (once per file digest and limits in this process, through the
// on-disk cache when configured), instantiates it once and checks its ABI version, so a
// broken module fails here rather than at the first decision.
func New(ctx context.Context, cfg Config, o Options) (*Policy, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	name := o.Name
	if name == "" {
		name = "wasm"
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	path := cfg.ModulePath(o.BaseDir)
	mod, err := loadModule(ctx, path, cfg.engineKey())
	if err == nil {
		err = mod.checkLimit(cfg.memoryLimitPages())
	}
	if err != nil {
		return nil, fmt.Errorf("wasm policy %s: %w", name, err)
	}
	p := &Policy{
		name: name, cfg: cfg, module: mod, seed: o.Seed, rand: newRandSource(o.Seed),
		logger: logger.With("policy", name, "module", path),
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.ensure(p.setupBound(ctx), bound{}); err != nil {
		return nil, err
	}
	return p, nil
}

// minSetupDeadline is the least time instantiation gets outside a decision (in New and
// Init): a Go guest's runtime start takes tens of milliseconds, far more on a loaded
// machine, and should not fail a short call_deadline meant for decisions.
const minSetupDeadline = 10 * time.Second

// setupBound bounds instantiation outside a decision by ctx and max(call_deadline, 10 s),
// or by ctx alone when call_deadline is 0.
func (p *Policy) setupBound(ctx context.Context) bound {
	if p.cfg.CallDeadline <= 0 {
		return newBound(ctx, 0)
	}
	return newBound(ctx, max(p.cfg.CallDeadline, minSetupDeadline))
}

// callBound bounds a call by ctx and call_deadline, whichever ends sooner.
func (p *Policy) callBound(ctx context.Context) bound { return newBound(ctx, p.cfg.CallDeadline) }

// newRandSource is the guest's random stream: ChaCha8 keyed by SHA-256 of a domain label
// and the seed, so the same run seed gives the guest the same bytes.
func newRandSource(seed uint64) io.Reader {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	key := sha256.Sum256(append([]byte("scalelab/policies/wasm random_get\x00"), b[:]...))
	return rand.NewChaCha8(key)
}

// Module returns the compiled module the policy runs.
func (p *Policy) Module() *Module { return p.module }

// Stats returns a snapshot of the guest's counters.
func (p *Policy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// usable reports why no call may reach the guest, or nil.
func (p *Policy) usable() error {
	switch {
	case p.closed || p.closing.Load():
		return fmt.Errorf("wasm policy %s: %w", p.name, ErrClosed)
	case p.disabled != nil:
		return fmt.Errorf("wasm policy %s: %w (%d failures; last: %v)", p.name, ErrDisabled, p.failures, p.disabled)
	}
	return nil
}

// ensure returns a ready instance: the current one, or a new one, instantiated and version
// checked under inst and, when the spec is known, initialised under call. A failure counts
// toward max_failures. p.mu is held.
func (p *Policy) ensure(inst, call bound) (*instance, error) {
	if p.inst != nil {
		return p.inst, nil
	}
	if err := p.usable(); err != nil {
		return nil, err
	}
	in, err := p.instantiate(inst, call)
	if err != nil {
		if refused(err) {
			// Nothing ran out of time in the guest: the bound had ended before. Only
			// release what was instantiated.
			if in != nil && in.mod != nil {
				_ = in.mod.Close(context.Background())
			}
		} else {
			p.failed(in, err)
		}
		return nil, fmt.Errorf("wasm policy %s: %w", p.name, err)
	}
	p.inst = in
	p.live.Store(in)
	return in, nil
}

// instantiate creates an instance under b and, when the spec is known, initialises it
// under call. On error the returned instance (possibly nil) is already closed.
func (p *Policy) instantiate(b, call bound) (*instance, error) {
	in := &instance{stderr: newHead(stderrHead), stack: make([]uint64, 5), memory: &limitedMemory{limit: uint64(p.cfg.memoryLimitPages()) * pageSize},
		meter: &meter{closing: &p.closing, b: b}}
	in.ctx = context.WithValue(context.Background(), meterKey{}, in.meter)
	const what = "instantiation (" + ExportInitialize + ")"
	if code, stop := in.meter.stopCode(false); stop {
		return nil, &refusedError{p.classify(b, what, sys.NewExitError(code), in)}
	}
	p.stats.Instantiations++
	mod, err := p.module.eng.rt.InstantiateModule(experimental.WithMemoryAllocator(in.ctx, in.memory), p.module.compiled, newModuleConfig(p.rand, in.stderr))
	if err != nil {
		return nil, p.classify(b, what, err, in)
	}
	in.mod, in.mem = mod, mod.Memory()
	in.alloc = mod.ExportedFunction(ExportAlloc)
	in.init = mod.ExportedFunction(ExportInit)
	in.act = mod.ExportedFunction(ExportAct)
	in.errFn = mod.ExportedFunction(ExportError)
	in.obs = mod.ExportedFunction(ExportObserve)
	in.resetF = mod.ExportedFunction(ExportReset)
	fail := func(err error) (*instance, error) {
		_ = mod.Close(context.Background())
		return in, err
	}
	if err := p.call(in, in.mod.ExportedFunction(ExportVersion), ExportVersion, b); err != nil {
		return fail(err)
	}
	if v := int32(uint32(in.stack[0])); v != ABIVersion {
		return fail(fmt.Errorf("%w: the module implements ABI v%d, this host implements v%d", ErrABIVersion, v, ABIVersion))
	}
	if p.spec == nil {
		return in, nil
	}
	if err := p.initGuest(in, call); err != nil {
		return fail(err)
	}
	return in, nil
}

// call runs fn on the instance's stack under b. When b has already ended (or the policy
// is closing) the guest is not entered and the error is a *refusedError.
func (p *Policy) call(in *instance, fn api.Function, name string, b bound) error {
	in.meter.b = b
	if code, stop := in.meter.stopCode(false); stop {
		return &refusedError{p.classify(b, name, sys.NewExitError(code), in)}
	}
	err := fn.CallWithStack(in.ctx, in.stack)
	in.meter.b = bound{} // do not keep the caller's context
	if err != nil {
		return p.classify(b, name, err, in)
	}
	return nil
}

// refusedError is a call's error when the guest was not entered: its instance is intact.
type refusedError struct{ error }

// Unwrap returns the classified error.
func (e *refusedError) Unwrap() error { return e.error }

// refused reports whether err is a call that never entered the guest.
func refused(err error) bool {
	var r *refusedError
	return errors.As(err, &r)
}

// allocate calls scalelab_alloc and checks the block lies inside guest memory.
func (p *Policy) allocate(in *instance, size uint32, b bound) (uint32, error) {
	in.stack[0] = uint64(size)
	if err := p.call(in, in.alloc, ExportAlloc, b); err != nil {
		return 0, err
	}
	ptr := uint32(in.stack[0])
	if ptr == 0 {
		return 0, fmt.Errorf("%w: %s(%d) returned 0 (allocation failed)", ErrOutOfMemory, ExportAlloc, size)
	}
	if uint64(ptr)+uint64(size) > uint64(in.mem.Size()) {
		return 0, fmt.Errorf("%w: %s(%d) returned %d, a block that ends past guest memory (%d bytes)",
			ErrBadModule, ExportAlloc, size, ptr, in.mem.Size())
	}
	return ptr, nil
}

// initGuest passes the spec to init and allocates the act buffers.
func (p *Policy) initGuest(in *instance, b bound) error {
	ptr, err := p.allocate(in, uint32(len(p.spec)), b)
	if err != nil {
		return err
	}
	in.mem.Write(ptr, p.spec)
	in.stack[0], in.stack[1] = uint64(ptr), uint64(len(p.spec))
	in.beginCall()
	if err := p.call(in, in.init, ExportInit, b); err != nil {
		return err
	}
	if st := int32(uint32(in.stack[0])); st != StatusOK {
		return p.guestError(in, ExportInit, st, b)
	}
	block, err := p.allocate(in, p.lay.length, b)
	if err != nil {
		return err
	}
	in.block = block
	return nil
}

// guestError builds the GuestError of a negative status, reading the error channel.
func (p *Policy) guestError(in *instance, fn string, st int32, b bound) error {
	ge := &GuestError{Function: fn, Status: st}
	if in.errFn != nil {
		if err := p.call(in, in.errFn, ExportError, b); err != nil {
			ge.Message = "(reading the error channel failed: " + err.Error() + ")"
		} else if mem, ok := in.mem.Read(0, in.mem.Size()); ok {
			msg, err := decodeErrorMessage(mem, in.stack[0])
			if err != nil {
				msg = "(" + err.Error() + ")"
			}
			ge.Message = msg
		}
	}
	return ge
}

// failed discards a broken instance and counts the failure; at max_failures the policy
// is disabled. p.mu is held.
func (p *Policy) failed(in *instance, err error) {
	if in != nil && in.mod != nil {
		_ = in.mod.Close(context.Background())
	}
	if in == p.inst {
		p.inst = nil
		p.live.Store(nil)
	}
	if errors.Is(err, ErrClosed) {
		return
	}
	p.failures++
	p.stats.Failures = p.failures
	p.stats.LastFailure = err.Error()
	if p.cfg.MaxFailures > 0 && p.failures >= p.cfg.MaxFailures {
		p.disabled = err
		p.stats.Disabled = true
		p.logger.Error("wasm policy disabled: it will not be re-instantiated", "failures", p.failures, "err", err)
		return
	}
	p.logger.Warn("wasm guest failed; a fresh instance will be created at the next call", "failures", p.failures, "err", err)
}

// Init passes the specs to the guest's init (JSON, docs/policy-abi.md) and allocates the
// act buffers. Calling Init again re-initialises a fresh instance.
func (p *Policy) Init(s framework.Specs) error {
	spec, err := encodeSpec(s, p.seed, p.cfg.Params)
	if err != nil {
		return fmt.Errorf("wasm policy %s: %w", p.name, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.usable(); err != nil {
		return err
	}
	if p.inst != nil && p.inst.block != 0 {
		// init runs once per instance: start over with a fresh one.
		_ = p.inst.mod.Close(context.Background())
		p.inst = nil
		p.live.Store(nil)
	}
	p.spec = spec
	p.lay = newLayout(len(s.Features), s.Action.Dim())
	b := p.callBound(context.Background())
	if p.inst != nil {
		if err := p.initGuest(p.inst, b); err != nil {
			p.failed(p.inst, err)
			return fmt.Errorf("wasm policy %s: %w", p.name, err)
		}
		return nil
	}
	_, err = p.ensure(p.setupBound(context.Background()), b)
	return err
}

// Act writes the observation into the guest's buffers, calls act and checks the action:
// its length against the action space's dimension, the guard after the buffer, and that
// every value is finite.
func (p *Policy) Act(ctx context.Context, obs framework.Observation) (framework.Action, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.usable(); err != nil {
		return framework.Action{}, err
	}
	if p.spec == nil {
		return framework.Action{}, fmt.Errorf("wasm policy %s: %w: Act before Init", p.name, ErrNotInitialized)
	}
	if len(obs.Values) != p.lay.n || len(obs.Valid) != len(obs.Values) {
		return framework.Action{}, fmt.Errorf("wasm policy %s: observation has %d values and %d validity flags, the spec has %d features",
			p.name, len(obs.Values), len(obs.Valid), p.lay.n)
	}
	b := p.callBound(ctx)
	in, err := p.ensure(b, b)
	if err != nil {
		return framework.Action{}, err
	}
	lay := p.lay
	block, ok := in.mem.Read(in.block, lay.length)
	if !ok {
		err := fmt.Errorf("%w: act buffers at %d (+%d bytes) lie outside guest memory", ErrBadModule, in.block, lay.length)
		p.failed(in, err)
		return framework.Action{}, fmt.Errorf("wasm policy %s: %w", p.name, err)
	}
	lay.writeInputs(block, obs)
	s := in.stack
	s[0], s[1], s[2] = uint64(in.block+lay.obs), uint64(in.block+lay.valid), uint64(lay.n)
	s[3], s[4] = uint64(in.block+lay.action), uint64(lay.m)
	in.beginCall()
	p.stats.Acts++
	if err := p.call(in, in.act, ExportAct, b); err != nil {
		if !refused(err) {
			p.failed(in, err)
		}
		return framework.Action{}, fmt.Errorf("wasm policy %s: %w", p.name, err)
	}
	ret := int32(uint32(s[0]))
	// Read again: act may have grown memory, which can move the host's view of it.
	out, ok := in.mem.Read(in.block+lay.action, uint32(8*lay.m+guardBytes))
	if !ok {
		err := fmt.Errorf("%w: the action buffer lies outside guest memory", ErrBadModule)
		p.failed(in, err)
		return framework.Action{}, fmt.Errorf("wasm policy %s: %w", p.name, err)
	}
	vals, err := decodeAction(out, lay.m, ret)
	if err != nil {
		var ge *GuestError
		if errors.As(err, &ge) {
			err = p.guestError(in, ExportAct, ret, b)
		}
		return framework.Action{}, fmt.Errorf("wasm policy %s: %w", p.name, err)
	}
	return framework.Action{Values: vals}, nil
}

// Observe passes the step's reward to the guest's observe export, when it has one. A
// failure is logged (Observe cannot return it); a broken instance is replaced at the next
// Act.
func (p *Policy) Observe(reward float64, done bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	in := p.inst
	if p.usable() != nil || in == nil || in.block == 0 || in.obs == nil {
		return
	}
	in.stack[0] = api.EncodeF64(reward)
	in.stack[1] = 0
	if done {
		in.stack[1] = 1
	}
	p.hook(in, in.obs, ExportObserve, p.callBound(context.Background()))
}

// Reset tells the guest a new episode starts, when it exports reset. A failure is logged;
// a broken instance is replaced at the next Act.
func (p *Policy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	in := p.inst
	if p.usable() != nil || in == nil || in.block == 0 || in.resetF == nil {
		return
	}
	p.hook(in, in.resetF, ExportReset, p.callBound(context.Background()))
}

// hook calls observe or reset (parameters already on the stack) and handles failure.
func (p *Policy) hook(in *instance, fn api.Function, name string, b bound) {
	in.beginCall()
	if err := p.call(in, fn, name, b); err != nil {
		if refused(err) {
			p.logger.Warn("wasm guest not called", "function", name, "err", err)
			return
		}
		p.failed(in, err)
		return
	}
	if st := int32(uint32(in.stack[0])); st != StatusOK {
		p.logger.Warn("wasm guest returned an error", "function", name, "err", p.guestError(in, name, st, b))
	}
}

// Close releases the guest instance; a call in progress is interrupted (when the module is
// interruptible: it stops at its next check, typically within a millisecond; otherwise Close
// returns without waiting for it and the instance is released when the call returns). The
// compiled module stays cached for other policies. Close is idempotent.
func (p *Policy) Close() error {
	p.closing.Store(true)
	if p.cfg.Interruptible {
		// The guest's checks see closing and stop a call in progress.
		p.mu.Lock()
	} else {
		if in := p.live.Load(); in != nil {
			_ = in.mod.CloseWithExitCode(context.Background(), 0)
		}
		if !p.mu.TryLock() {
			return nil
		}
	}
	defer p.mu.Unlock()
	p.closed = true
	if p.inst != nil {
		_ = p.inst.mod.Close(context.Background())
		p.inst = nil
		p.live.Store(nil)
	}
	return nil
}

package wasm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/scalelab/scalelab/framework"
)

// instance is one instantiation of a module: its exports, its act buffers and the tail of
// its stderr. An instance is used by one goroutine at a time (Policy.mu).
type instance struct {
	mod                                  api.Module
	mem                                  api.Memory
	alloc, init, act, errFn, obs, resetF api.Function
	// stack is the reusable parameter/result stack of CallWithStack (act has 5 params).
	stack []uint64
	// block is the guest pointer of the act buffers (0 until init succeeded).
	block uint32
	// stderr keeps the first bytes the guest wrote to stderr during the current call.
	stderr *head
	// memory backs the guest's linear memory and enforces its limit.
	memory *limitedMemory
	// meter is the bound of the call in progress, for the instrumented guest's checks, and
	// ctx the context every call into the instance gets: it carries the meter.
	meter *meter
	ctx   context.Context
}

// beginCall clears what the previous call left for error messages: the stderr tail and a
// refused memory request the guest survived.
func (in *instance) beginCall() {
	in.stderr.reset()
	in.memory.denied = 0
}

// pageSize is the WebAssembly page size.
const pageSize = 65536

// limitedMemory backs one instance's linear memory (wazero's experimental MemoryAllocator)
// and refuses to grow it past limit bytes. Enforcing the limit here rather than with the
// runtime-wide WithMemoryLimitPages lets each policy have its own limit in a shared
// runtime, and lets the host see the refused request, so running out of memory is told
// apart from other traps precisely.
type limitedMemory struct {
	limit uint64
	buf   []byte
	// denied is the size in bytes of the last refused request (0 = none).
	denied uint64
}

// Allocate implements experimental.MemoryAllocator.
func (m *limitedMemory) Allocate(capacity, _ uint64) experimental.LinearMemory {
	if capacity > m.limit {
		capacity = m.limit
	}
	m.buf = make([]byte, 0, capacity)
	return m
}

// Reallocate implements experimental.LinearMemory: it grows the buffer to size bytes, or
// returns nil (memory.grow then yields −1) past the limit.
func (m *limitedMemory) Reallocate(size uint64) []byte {
	if size > m.limit {
		m.denied = size
		return nil
	}
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
		return m.buf
	}
	// Grow geometrically, as append would, without passing the limit.
	c := max(size, uint64(cap(m.buf))*5/4)
	c = min(c, m.limit)
	nb := make([]byte, size, c)
	copy(nb, m.buf)
	m.buf = nb
	return m.buf
}

// Free implements experimental.LinearMemory.
func (m *limitedMemory) Free() { m.buf = nil }

// newModuleConfig is the sandbox of one instance: no arguments, no environment, no
// preopened directories, no sockets, stdin empty, stdout discarded, stderr kept for error
// messages, random_get from the policy's seeded stream, and a deterministic clock whose
// wall time starts at framework.SimEpoch and whose monotonic time starts at 0, both
// advancing 1 ms per reading; sleeps and yields return at once.
func newModuleConfig(rand io.Reader, stderr io.Writer) wazero.ModuleConfig {
	wall := framework.SimEpoch.UnixNano() - int64(time.Millisecond)
	mono := -int64(time.Millisecond)
	return wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions(ExportInitialize).
		WithStdin(strings.NewReader("")).
		WithStdout(io.Discard).
		WithStderr(stderr).
		WithRandSource(rand).
		WithWalltime(func() (int64, int32) {
			t := atomic.AddInt64(&wall, int64(time.Millisecond))
			return t / 1e9, int32(t % 1e9)
		}, sys.ClockResolution(time.Millisecond)).
		WithNanotime(func() int64 { return atomic.AddInt64(&mono, int64(time.Millisecond)) }, sys.ClockResolution(time.Millisecond)).
		WithNanosleep(func(int64) {}).
		WithOsyield(func() {})
}

// head is an io.Writer that keeps the first max bytes written (a guest's stderr during
// one call: the first lines — "panic: ...", "fatal error: ..." — say what went wrong, the
// stack dump after them is noise in an error message).
type head struct {
	buf []byte
	max int
}

func newHead(max int) *head { return &head{max: max} }

// Write implements io.Writer.
func (h *head) Write(p []byte) (int, error) {
	if room := h.max - len(h.buf); room > 0 {
		h.buf = append(h.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (h *head) reset() { h.buf = h.buf[:0] }

// String returns the first stderrLines non-empty lines as one printable line.
func (h *head) String() string {
	var lines []string
	for _, l := range strings.Split(string(h.buf), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, sanitize([]byte(l)))
			if len(lines) == stderrLines {
				break
			}
		}
	}
	return strings.Join(lines, " | ")
}

// stderrHead is how much of a guest's stderr per call the host keeps, and stderrLines how
// many of its lines an error message quotes.
const (
	stderrHead  = 4096
	stderrLines = 3
)

// memorySize returns the instance's memory size in bytes, or 0 when it cannot be read (a
// closed module).
func (in *instance) memorySize() (n uint32) {
	defer func() {
		if recover() != nil {
			n = 0
		}
	}()
	if in == nil || in.mem == nil {
		return 0
	}
	return in.mem.Size()
}

// parseTrap splits wazero's trap error ("wasm error: unreachable\nwasm stack trace:\n\t...")
// into the reason and the innermost frames.
func parseTrap(msg string) (reason, frames string, ok bool) {
	const prefix = "wasm error: "
	i := strings.Index(msg, prefix)
	if i < 0 {
		return "", "", false
	}
	lines := strings.Split(msg[i+len(prefix):], "\n")
	reason = strings.TrimSpace(lines[0])
	var fs []string
	for _, l := range lines[1:] {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "wasm stack trace") {
			continue
		}
		fs = append(fs, l)
		if len(fs) == 3 {
			break
		}
	}
	if len(fs) > 0 {
		frames = " (at " + strings.Join(fs, " ← ") + ")"
	}
	return reason, frames, true
}

// oomHints are what guests print when an allocation fails: Go's runtime and Rust's
// default allocation error handler.
var oomHints = []string{"out of memory", "memory allocation of"}

// classify turns an error from calling fn under b into one wrapping the matching sentinel.
func (p *Policy) classify(b bound, fn string, err error, in *instance) error {
	var stderr string
	if in != nil && in.stderr != nil {
		stderr = in.stderr.String()
	}
	suffix := ""
	if stderr != "" {
		suffix = "; guest stderr: " + stderr
	}
	oom := func() bool {
		if in != nil && in.memory != nil && in.memory.denied > 0 {
			return true
		}
		low := strings.ToLower(stderr)
		for _, h := range oomHints {
			if strings.Contains(low, h) {
				return true
			}
		}
		return false
	}
	memText := func() string {
		s := fmt.Sprintf("guest memory %.1f MiB of its %d MiB limit (memory_limit_mb)",
			float64(in.memorySize())/(1<<20), p.cfg.MemoryLimitMB)
		if in != nil && in.memory != nil && in.memory.denied > 0 {
			s += fmt.Sprintf("; a memory.grow to %.1f MiB was refused", float64(in.memory.denied)/(1<<20))
		}
		return s
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded:
			return fmt.Errorf("%w: %s did not return within %v; the host stopped it: %w",
				ErrDeadline, fn, b.budget.Round(time.Millisecond), context.DeadlineExceeded)
		case sys.ExitCodeContextCanceled:
			if p.closing.Load() {
				return fmt.Errorf("%s interrupted: %w", fn, ErrClosed)
			}
			return fmt.Errorf("%s canceled: %w", fn, context.Canceled)
		}
		if p.closing.Load() {
			return fmt.Errorf("%s interrupted: %w", fn, ErrClosed)
		}
		if oom() {
			return fmt.Errorf("%w in %s: the guest exited with code %d; %s%s", ErrOutOfMemory, fn, exit.ExitCode(), memText(), suffix)
		}
		return fmt.Errorf("%w with code %d in %s%s", ErrExit, exit.ExitCode(), fn, suffix)
	}
	if b.ctx != nil && b.ctx.Err() != nil && errors.Is(err, b.ctx.Err()) {
		return fmt.Errorf("%s: %w", fn, err)
	}
	if reason, frames, ok := parseTrap(err.Error()); ok {
		if oom() {
			return fmt.Errorf("%w in %s: trap %q; %s%s", ErrOutOfMemory, fn, reason, memText(), suffix)
		}
		return fmt.Errorf("%w in %s: %s%s%s", ErrTrap, fn, reason, frames, suffix)
	}
	return fmt.Errorf("call %s: %w", fn, err)
}

package wasm

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// More opcodes for the adversarial guests.
const (
	opIf      = 0x04
	opF64Load = 0x2b
	opF64Lt   = 0x63
	opI32DivS = 0x6d
)

// errorChannel returns a scalelab_error export pointing at (ptr, n).
func errorChannel(ptr uint32, n uint32) wfunc {
	return wfunc{export: ExportError, results: []byte{tI64}, body: i64c(int64(n)<<32 | int64(ptr))}
}

// trapIfNegative traps when obs[0] < 0 and otherwise writes 1.0.
func trapIfNegative() wfunc {
	return fnAct(
		local(0), []byte{opF64Load, 3, 0}, f64c(0), []byte{opF64Lt, opIf, blockVoid, opUnreachable, opEnd},
		local(3), f64c(1), f64store(0), i32c(1),
	)
}

// callTree is an unexported function (index self) of one i32 parameter d that calls
// itself twice with d−1 while d > 0: 2^d calls and not a single loop.
func callTree(self uint32) wfunc {
	rec := cat(local(0), i32c(1), []byte{opI32Sub, opCall}, uleb(uint64(self)))
	return wfunc{params: []byte{tI32}, body: cat(
		local(0), i32c(0), []byte{opI32GtS, opIf, blockVoid}, rec, rec, []byte{opEnd})}
}

// garbage is an error message no log line should carry verbatim: terminal escapes, NUL,
// invalid UTF-8, a bidirectional override and newlines.
var garbage = []byte("bad\x00\x1b[31mred\xff\xfe\u202egnirts\nsecond line\r\x07")

// TestAdversarialGuests runs each misbehaving guest and checks it gets its clear error.
func TestAdversarialGuests(t *testing.T) {
	specs := discreteSpecs(3, "x", "y")
	huge := strings.Repeat("é", 3000) // 6000 bytes, over the 4096-byte read limit
	cases := []struct {
		name string
		mod  wmod
		want error
		// msg must appear in the error text.
		msg string
		// reinstantiates is true when the failure discards the instance.
		reinstantiates bool
	}{
		{name: "trap in act", mod: baseModule().with(fnAct([]byte{opUnreachable})),
			want: ErrTrap, msg: "trap in scalelab_act: unreachable", reinstantiates: true},
		{name: "division by zero", mod: baseModule().with(fnAct(i32c(1), i32c(0), []byte{opI32DivS})),
			want: ErrTrap, msg: "integer divide by zero", reinstantiates: true},
		{name: "out of bounds store", mod: baseModule().with(fnAct(i32c(-8), f64c(0), f64store(0), i32c(1))),
			want: ErrTrap, msg: "out of bounds memory access", reinstantiates: true},
		{name: "infinite loop", mod: baseModule().with(fnAct([]byte{opLoop, blockVoid, opBr, 0, opEnd}, i32c(0))),
			want: ErrDeadline, msg: "scalelab_act did not return within", reinstantiates: true},
		{name: "call tree without loops", mod: baseModule().with(fnAct(i32c(60), []byte{opCall, 4}, i32c(0))).with(callTree(4)),
			want: ErrDeadline, msg: "scalelab_act did not return within", reinstantiates: true},
		{name: "bulk memory in a loop", mod: baseModule().with(fnAct(
			[]byte{opLoop, blockVoid}, i32c(0), i32c(0), i32c(65536), opMemoryFill, []byte{opBr, 0, opEnd}, i32c(0))),
			want: ErrDeadline, msg: "scalelab_act did not return within", reinstantiates: true},
		{name: "host calls in a loop", mod: func() wmod {
			m := baseModule().with(fnAct([]byte{opLoop, blockVoid}, i32c(0), i32c(65536), []byte{opCall, 0, opDrop, opBr, 0, opEnd}, i32c(0)))
			m.imports = []wimport{{module: WASIModule, name: "random_get", params: []byte{tI32, tI32}, results: []byte{tI32}}}
			return m
		}(), want: ErrDeadline, msg: "scalelab_act did not return within", reinstantiates: true},
		{name: "memory bomb", mod: baseModule().with(fnAct(
			[]byte{opBlock, blockVoid, opLoop, blockVoid}, i32c(16), []byte{opMemoryGrow, 0}, i32c(-1),
			[]byte{opI32Eq, opBrIf, 1, opBr, 0, opEnd, opEnd, opUnreachable})),
			want: ErrOutOfMemory, msg: "of its 2 MiB limit", reinstantiates: true},
		{name: "output past the buffer", mod: baseModule().with(fnAct(
			local(3), f64c(1), f64store(0), local(3), f64c(2), f64store(8), i32c(2))),
			want: ErrOutputLength, msg: "wrote past the end of the action buffer"},
		{name: "claims more values", mod: baseModule().with(fnAct(local(3), f64c(1), f64store(0), i32c(2))),
			want: ErrOutputLength, msg: "act returned 2 action values, the action space has 1"},
		{name: "claims no values", mod: baseModule().with(fnAct(i32c(0))),
			want: ErrOutputLength, msg: "act returned 0 action values"},
		{name: "NaN output", mod: baseModule().with(actConst(math.NaN())),
			want: ErrNonFinite, msg: "action[0] = NaN"},
		{name: "Inf output", mod: baseModule().with(actConst(math.Inf(-1))),
			want: ErrNonFinite, msg: "action[0] = -Inf"},
		{name: "unwritten output", mod: baseModule().with(fnAct(i32c(1))),
			want: ErrNonFinite, msg: "left unwritten"},
		{name: "error status with garbage message", mod: func() wmod {
			m := baseModule().with(fnAct(i32c(StatusError))).with(errorChannel(256, uint32(len(garbage))))
			m.data = []wdata{{256, garbage}}
			return m
		}(), want: ErrGuest, msg: `scalelab_act returned status -1 (error): bad\x00\x1b[31mred` + "\uFFFD\uFFFD" + `\u202egnirts | second line |`},
		{name: "error channel out of bounds", mod: baseModule().with(fnAct(i32c(StatusInvalid))).with(errorChannel(0xFFFFFF00, 64)),
			want: ErrGuest, msg: "status -2 (invalid argument): (error channel points outside guest memory"},
		{name: "error message too long", mod: func() wmod {
			m := baseModule().with(fnAct(i32c(StatusError))).with(errorChannel(2048, uint32(len(huge))))
			m.global = 16384
			m.data = []wdata{{2048, []byte(huge)}}
			return m
		}(), want: ErrGuest, msg: "…(truncated)"},
		{name: "error status without error channel", mod: baseModule().with(fnAct(i32c(-42))),
			want: ErrGuest, msg: "scalelab_act returned status -42 (unknown status)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(writeModule(t, tc.mod.encode()))
			cfg.CallDeadline = 100 * time.Millisecond
			p := newPolicy(t, cfg, specs, 1)
			_, err := p.Act(context.Background(), obsOf(0.5, 0.5))
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q does not say %q", err, tc.msg)
			}
			checkPrintable(t, err.Error())
			// A second call: a broken instance is replaced by a fresh one, a healthy
			// instance is kept; either way the same error comes back.
			_, err2 := p.Act(context.Background(), obsOf(0.5, 0.5))
			if !errors.Is(err2, tc.want) {
				t.Fatalf("second call: error %v, want %v", err2, tc.want)
			}
			st := p.Stats()
			wantInst, wantFail := 1, 0
			if tc.reinstantiates {
				wantInst, wantFail = 2, 2
			}
			if st.Instantiations != wantInst || st.Failures != wantFail {
				t.Fatalf("stats %+v, want %d instantiations and %d failures", st, wantInst, wantFail)
			}
		})
	}
}

// checkPrintable fails when an error message carries raw control or format characters
// or invalid UTF-8.
func checkPrintable(t *testing.T, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Fatalf("message is not valid UTF-8: %q", s)
	}
	for _, r := range s {
		if r != ' ' && (unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)) {
			t.Fatalf("message carries control character %U: %q", r, s)
		}
	}
}

// TestBrokenModules checks the errors of modules that cannot become a policy.
func TestBrokenModules(t *testing.T) {
	cases := []struct {
		name string
		bin  []byte
		want error
		msg  string
	}{
		{"empty file", nil, ErrNotWasm, "the file is empty"},
		{"text file", []byte("hello, world\n"), ErrNotWasm, `it starts with "hello, w"`},
		{"wat text", []byte("  (module (func))"), ErrNotWasm, "WebAssembly text (.wat)"},
		{"native executable", []byte("\x7fELF\x02\x01\x01\x00"), ErrNotWasm, "native executable"},
		{"component", []byte("\x00asm\x0d\x00\x01\x00"), ErrNotWasm, "WebAssembly component"},
		{"truncated header", []byte("\x00asm"), ErrNotWasm, "truncated header"},
		{"corrupt body", append([]byte("\x00asm\x01\x00\x00\x00"), 0x01, 0xff, 0xff), ErrBadModule, "invalid WebAssembly"},
		{"missing act", baseModule().without(ExportAct).encode(), ErrMissingExport, "missing export scalelab_act (i32, i32, i32, i32, i32) -> (i32)"},
		{"missing alloc", baseModule().without(ExportAlloc).encode(), ErrMissingExport, "missing export scalelab_alloc"},
		{"missing version", baseModule().without(ExportVersion).encode(), ErrMissingExport, "missing export scalelab_abi_version"},
		{"missing memory", func() []byte { m := baseModule(); m.noMemoryExport = true; return m.encode() }(), ErrMissingExport, `missing export memory "memory"`},
		{"wrong act signature", baseModule().with(wfunc{export: ExportAct, params: []byte{tI32, tI32}, results: []byte{tI32}, body: i32c(0)}).encode(),
			ErrBadModule, "export scalelab_act has type (i32, i32) -> (i32), ABI v1 wants (i32, i32, i32, i32, i32) -> (i32)"},
		{"wrong observe signature", baseModule().with(wfunc{export: ExportObserve, params: []byte{tI32}, results: []byte{tI32}, body: i32c(0)}).encode(),
			ErrBadModule, "export scalelab_observe has type (i32) -> (i32)"},
		{"ABI version 2", baseModule().with(fnVersion(2)).encode(), ErrABIVersion, "the module implements ABI v2, this host implements v1"},
		{"WASI command", baseModule().with(wfunc{export: ExportStart}).encode(), ErrBadModule, "WASI command"},
		{"foreign import", func() []byte {
			m := baseModule()
			m.imports = []wimport{{module: "env", name: "steal"}}
			return m.encode()
		}(), ErrBadModule, "imports env.steal, but the host provides only wasi_snapshot_preview1"},
		{"initial memory over the limit", func() []byte { m := baseModule(); m.memPages = 64; return m.encode() }(),
			ErrOutOfMemory, "initial memory of 4.0 MiB is larger than memory_limit_mb (2 MiB)"},
		{"trap in _initialize", baseModule().with(wfunc{export: ExportInitialize, body: []byte{opUnreachable}}).encode(),
			ErrTrap, "trap in instantiation (_initialize): unreachable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(writeModule(t, tc.bin))
			p, err := New(context.Background(), cfg, Options{Name: "broken", Logger: quietLogger})
			if err == nil {
				p.Close()
				t.Fatal("New succeeded")
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q does not say %q", err, tc.msg)
			}
		})
	}
}

// TestInitFailures checks errors raised while initialising: init's own status, an
// allocator that fails or hands out memory it does not have.
func TestInitFailures(t *testing.T) {
	cases := []struct {
		name string
		mod  wmod
		want error
		msg  string
	}{
		{"init refuses", func() wmod {
			msg := []byte("only box spaces")
			m := baseModule().with(fnInit(StatusUnsupported)).with(errorChannel(512, uint32(len(msg))))
			m.data = []wdata{{512, msg}}
			return m
		}(), ErrGuest, "scalelab_init returned status -4 (unsupported): only box spaces"},
		{"alloc fails", baseModule().with(wfunc{export: ExportAlloc, params: []byte{tI32}, results: []byte{tI32}, body: i32c(0)}),
			ErrOutOfMemory, "scalelab_alloc("},
		{"alloc outside memory", baseModule().with(wfunc{export: ExportAlloc, params: []byte{tI32}, results: []byte{tI32}, body: i32c(65530)}),
			ErrBadModule, "returned 65530, a block that ends past guest memory (65536 bytes)"},
		{"init loops", baseModule().with(wfunc{export: ExportInit, params: []byte{tI32, tI32}, results: []byte{tI32},
			body: cat([]byte{opLoop, blockVoid, opBr, 0, opEnd}, i32c(0))}), ErrDeadline, "scalelab_init did not return within"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(writeModule(t, tc.mod.encode()))
			cfg.CallDeadline = 100 * time.Millisecond
			p, err := New(context.Background(), cfg, Options{Name: "init", Logger: quietLogger})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer p.Close()
			err = p.Init(discreteSpecs(3, "x"))
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Init error %v, want %v saying %q", err, tc.want, tc.msg)
			}
		})
	}
}

// TestReinstantiationAfterTrap checks that a trap costs one decision: the next call runs on
// a fresh instance; and that max_failures disables the policy.
func TestReinstantiationAfterTrap(t *testing.T) {
	cfg := testConfig(writeModule(t, baseModule().with(trapIfNegative()).encode()))
	cfg.MaxFailures = 3
	p := newPolicy(t, cfg, discreteSpecs(3, "x"), 1)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if _, err := p.Act(ctx, obsOf(-1)); !errors.Is(err, ErrTrap) {
			t.Fatalf("act(-1): %v, want a trap", err)
		}
		a, err := p.Act(ctx, obsOf(1))
		if err != nil || a.Values[0] != 1 {
			t.Fatalf("act(1) after a trap: %v %v, want [1]", a.Values, err)
		}
	}
	if st := p.Stats(); st.Instantiations != 3 || st.Failures != 2 || st.Disabled {
		t.Fatalf("stats %+v, want 3 instantiations, 2 failures, enabled", st)
	}
	// The third failure reaches max_failures = 3.
	if _, err := p.Act(ctx, obsOf(-1)); !errors.Is(err, ErrTrap) {
		t.Fatalf("third trap: %v", err)
	}
	_, err := p.Act(ctx, obsOf(1))
	if !errors.Is(err, ErrDisabled) || !strings.Contains(err.Error(), "3 failures") {
		t.Fatalf("after max_failures: %v, want ErrDisabled naming 3 failures", err)
	}
	if st := p.Stats(); !st.Disabled || st.Instantiations != 3 {
		t.Fatalf("stats %+v, want disabled without a further instantiation", st)
	}
}

// TestAdversariesDoNotDisturbOthers runs a well-behaved policy while misbehaving guests
// loop, trap and exhaust memory in parallel goroutines; the good policy's every answer
// must stay exact.
func TestAdversariesDoNotDisturbOthers(t *testing.T) {
	good := testConfig(writeModule(t, baseModule().with(fnAct(
		local(3), local(0), []byte{opF64Load, 3, 0}, f64store(0), i32c(1))).encode()))
	bad := []wmod{
		baseModule().with(fnAct([]byte{opUnreachable})),
		baseModule().with(fnAct([]byte{opLoop, blockVoid, opBr, 0, opEnd}, i32c(0))),
		baseModule().with(fnAct([]byte{opBlock, blockVoid, opLoop, blockVoid}, i32c(16), []byte{opMemoryGrow, 0}, i32c(-1),
			[]byte{opI32Eq, opBrIf, 1, opBr, 0, opEnd, opEnd, opUnreachable})),
	}
	gp := newPolicy(t, good, discreteSpecs(3, "x"), 1)
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i, m := range bad {
		cfg := testConfig(writeModule(t, m.encode()))
		cfg.CallDeadline = 200 * time.Millisecond
		cfg.MaxFailures = 0
		bp := newPolicy(t, cfg, discreteSpecs(3, "x"), uint64(i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := bp.Act(ctx, obsOf(1)); err == nil {
					t.Error("a misbehaving guest succeeded")
					return
				}
			}
		}()
	}
	for i := 0; i < 2000; i++ {
		x := float64(i) / 7
		a, err := gp.Act(ctx, obsOf(x))
		if err != nil || len(a.Values) != 1 || a.Values[0] != x {
			t.Fatalf("decision %d: %v %v, want [%v]", i, a.Values, err, x)
		}
	}
	close(stop)
	wg.Wait()
}

// TestCloseStopsARunningGuest closes a policy while its guest spins in act with a
// deadline far away: Close must stop it and Act must report the policy closed.
func TestCloseStopsARunningGuest(t *testing.T) {
	cfg := testConfig(writeModule(t, baseModule().with(fnAct([]byte{opLoop, blockVoid, opBr, 0, opEnd}, i32c(0))).encode()))
	cfg.CallDeadline = time.Hour
	p := newPolicy(t, cfg, discreteSpecs(3, "x"), 1)
	errc := make(chan error, 1)
	go func() {
		_, err := p.Act(context.Background(), obsOf(1))
		errc <- err
	}()
	// Wait until Act holds the policy (Stats would wait for it), then give the guest time
	// to be deep in its loop.
	for p.mu.TryLock() {
		p.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	closed := make(chan struct{})
	go func() { p.Close(); close(closed) }()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("act: %v, want ErrClosed", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the guest still runs a minute after Close")
	}
	<-closed
	if st := p.Stats(); st.Failures != 0 {
		t.Fatalf("stats %+v: closing is not a failure", st)
	}
}

// TestDeadlines checks the other places a deadline stops the guest or a call: a spinning
// _initialize while the policy is built, bounded by New's context, and a decision whose
// context has already ended, refused before the guest runs.
func TestDeadlines(t *testing.T) {
	t.Run("spinning _initialize", func(t *testing.T) {
		m := baseModule().with(wfunc{export: ExportInitialize, body: []byte{opLoop, blockVoid, opBr, 0, opEnd}})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := New(ctx, testConfig(writeModule(t, m.encode())), Options{Logger: quietLogger})
		if !errors.Is(err, ErrDeadline) || !strings.Contains(err.Error(), "instantiation (_initialize) did not return within") {
			t.Fatalf("error %v, want ErrDeadline in _initialize", err)
		}
	})
	t.Run("context already ended", func(t *testing.T) {
		p := newPolicy(t, testConfig(writeModule(t, baseModule().encode())), discreteSpecs(3, "x"), 1)
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Millisecond))
		defer cancel()
		if _, err := p.Act(ctx, obsOf(1)); !errors.Is(err, ErrDeadline) {
			t.Fatalf("error %v, want ErrDeadline", err)
		}
		// The guest never ran: the instance is kept and nothing counts as its failure.
		if st := p.Stats(); st.Acts != 1 || st.Failures != 0 || st.Instantiations != 1 {
			t.Fatalf("stats %+v, want the refused decision to leave the guest alone", st)
		}
		if a, err := p.Act(context.Background(), obsOf(1)); err != nil || a.Values[0] != 1 {
			t.Fatalf("next decision: %v %v, want [1]", a.Values, err)
		}
	})
}

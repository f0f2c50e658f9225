package wasm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

// More opcodes for the instrumentation tests.
const (
	opElse         = 0x05
	opBrTable      = 0x0e
	opReturn       = 0x0f
	opCall         = 0x10
	opCallIndirect = 0x11
	opSelectT      = 0x1c
	opLocalTee     = 0x22
	opI32Load8U    = 0x2d
	opI32GtS       = 0x4a
	opI32RemU      = 0x70
	opRefIsNull    = 0xd1
	opRefFunc      = 0xd2
	tFuncref       = 0x70
)

// opMemoryFill is memory.fill on memory 0 (opMemoryCopy is in fuzz_test.go).
var opMemoryFill = []byte{0xfc, 11, 0}

// rawFunc is a function of featureModule: its type index, locals, body and names.
type rawFunc struct {
	export, name string
	typ          uint32
	locals       []byte
	body         []byte
}

// Types of featureModule.
const (
	tyI32I32    = 0 // (i32) → i32
	tyVoid      = 1 // () → ()
	tyPair      = 2 // (i32 i32) → (i32 i32), a multi-value block type
	tyYield     = 3 // () → i32, WASI sched_yield
	tyGetGlobal = 4 // () → i32
)

// featureModule is a module that uses what the instrumentation must get right: an
// imported function before the defined ones (so every defined function's index moves),
// direct and indirect calls, recursion, loops with and without block parameters, br_table,
// typed select, ref.func in code and in a global's initialiser, element segments in two
// encodings, a start section, bulk memory, and a name section. Function k of funcs has
// index k+1.
func featureModule() []byte {
	funcs := []rawFunc{
		// 1: sum(n) = n + (n−1) + … + 1, in a loop.
		{export: "sum", name: "sum_loop", typ: tyI32I32, locals: []byte{tI32}, body: cat(
			[]byte{opBlock, blockVoid, opLoop, blockVoid},
			local(0), []byte{opI32Eqz, opBrIf, 1},
			[]byte{opLocalGet, 1}, local(0), []byte{opI32Add, opLocalSet, 1},
			local(0), i32c(1), []byte{opI32Sub, opLocalSet, 0, opBr, 0, opEnd, opEnd},
			[]byte{opLocalGet, 1})},
		// 2: fib(n), doubly recursive, with if/else producing a value.
		{export: "fib", name: "fib_recursive", typ: tyI32I32, body: cat(
			local(0), i32c(2), []byte{opI32LtS, opIf, tI32}, local(0), []byte{opElse},
			local(0), i32c(1), []byte{opI32Sub, opCall, 2},
			local(0), i32c(2), []byte{opI32Sub, opCall, 2, opI32Add, opEnd})},
		// 3: dispatch(k) = table[k mod 3](10).
		{export: "dispatch", name: "dispatch", typ: tyI32I32, body: cat(
			i32c(10), local(0), i32c(3), []byte{opI32RemU, opCallIndirect, tyI32I32, 0})},
		// 4: pair(x): a loop with block parameters (x, 7) that swaps them x times (at most
		// 5), then br_table on x mod 3 choosing how to combine them, and a typed select.
		{export: "pair", name: "pair", typ: tyI32I32, locals: []byte{tI32, tI32}, body: cat(
			local(0), i32c(7),
			[]byte{opLoop, tyPair}, // (a, b) on the stack
			[]byte{opLocalSet, 2, opLocalSet, 1, opLocalGet, 2, opLocalGet, 1}, // swap
			local(0), i32c(1), []byte{opI32Sub, opLocalTee, 0}, i32c(0), []byte{opI32GtS},
			[]byte{opBrIf, 0, opEnd},
			[]byte{opLocalSet, 2, opLocalSet, 1},
			[]byte{opBlock, blockVoid, opBlock, blockVoid, opBlock, blockVoid},
			local(1), i32c(3), []byte{opI32RemU, opBrTable, 2, 0, 1, 2, opEnd},
			local(1), local(2), []byte{opI32Sub, opReturn, opEnd},
			local(1), local(2), []byte{opI32Mul, opReturn, opEnd},
			local(1), local(2), local(1), local(2), []byte{opI32GtS, opSelectT, 1, tI32})},
		// 5: bulk(n): fill n bytes at 0 with 0xab, copy them to 1000, return the last one.
		{export: "bulk", name: "bulk", typ: tyI32I32, body: cat(
			i32c(0), i32c(0xab), local(0), opMemoryFill,
			i32c(1000), i32c(0), local(0), opMemoryCopy,
			local(0), i32c(999), []byte{opI32Add, opI32Load8U, 0, 0})},
		// 6: yield(n) calls WASI sched_yield n times and returns n + the sum of its results.
		{export: "yield", name: "yield", typ: tyI32I32, locals: []byte{tI32}, body: cat(
			local(0), []byte{opLocalSet, 1},
			[]byte{opBlock, blockVoid, opLoop, blockVoid},
			local(0), []byte{opI32Eqz, opBrIf, 1},
			[]byte{opLocalGet, 1, opCall, 0, opI32Add, opLocalSet, 1},
			local(0), i32c(1), []byte{opI32Sub, opLocalSet, 0, opBr, 0, opEnd, opEnd},
			[]byte{opLocalGet, 1})},
		// 7: isnull(x) = ref.is_null(ref.func sum) + x.
		{export: "isnull", name: "isnull", typ: tyI32I32, body: cat(
			[]byte{opRefFunc, 1, opRefIsNull}, local(0), []byte{opI32Add})},
		// 8: the start function: global 0 = 42.
		{name: "start", typ: tyVoid, body: cat(i32c(42), []byte{opGlobalSet, 0})},
		// 9: getg() = global 0.
		{export: "getg", name: "getg", typ: tyGetGlobal, body: []byte{opGlobalGet, 0}},
	}
	types := vec([][]byte{
		functype([]byte{tI32}, []byte{tI32}),
		functype(nil, nil),
		functype([]byte{tI32, tI32}, []byte{tI32, tI32}),
		functype(nil, []byte{tI32}),
		functype(nil, []byte{tI32}),
	})
	imports := vec([][]byte{cat(name(WASIModule), name("sched_yield"), []byte{0x00}, uleb(tyYield))})
	var fsec, exports, codes, names [][]byte
	for i, f := range funcs {
		idx := uint64(i + 1)
		fsec = append(fsec, uleb(uint64(f.typ)))
		if f.export != "" {
			exports = append(exports, cat(name(f.export), []byte{0x00}, uleb(idx)))
		}
		var locals [][]byte
		for _, t := range f.locals {
			locals = append(locals, []byte{1, t})
		}
		body := cat(vec(locals), f.body, []byte{opEnd})
		codes = append(codes, cat(uleb(uint64(len(body))), body))
		names = append(names, cat(uleb(idx), name(f.name)))
	}
	exports = append(exports, cat(name("memory"), []byte{0x02, 0x00}))
	// Element segments: active (flags 0) table[0..2] = sum, fib, pair; declarative with
	// expressions (flags 7) declaring sum for ref.func.
	elems := vec([][]byte{
		cat([]byte{0x00}, i32c(0), []byte{opEnd}, vec([][]byte{uleb(1), uleb(2), uleb(4)})),
		cat([]byte{0x07, tFuncref}, vec([][]byte{{opRefFunc, 1, opEnd}})),
	})
	globals := vec([][]byte{
		cat([]byte{tI32, 0x01}, i32c(0), []byte{opEnd}),
		cat([]byte{tFuncref, 0x00, opRefFunc, 2, opEnd}),
	})
	nameSec := cat(name("name"), section(1, vec(names)))
	out := []byte("\x00asm\x01\x00\x00\x00")
	out = append(out, section(secType, types)...)
	out = append(out, section(secImport, imports)...)
	out = append(out, section(secFunction, vec(fsec))...)
	out = append(out, section(secTable, vec([][]byte{{tFuncref, 0x00, 3}}))...)
	out = append(out, section(secMemory, vec([][]byte{{0x00, 1}}))...)
	out = append(out, section(secGlobal, globals)...)
	out = append(out, section(secExport, vec(exports))...)
	out = append(out, section(secStart, uleb(8))...)
	out = append(out, section(secElement, elems)...)
	out = append(out, section(secCode, vec(codes))...)
	out = append(out, section(secCustom, nameSec)...)
	return out
}

// meterRuntime is a runtime with WASI and, when metered, the check function.
func meterRuntime(t testing.TB, metered bool) wazero.Runtime {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCoreFeatures(api.CoreFeaturesV2))
	t.Cleanup(func() { rt.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	if metered {
		if err := instantiateMeter(ctx, rt); err != nil {
			t.Fatal(err)
		}
	}
	return rt
}

// meteredInstance instruments bin and instantiates it with a fresh meter (never closing,
// no deadline) in its context; it returns the module, the meter and the context to call
// it with.
func meteredInstance(t testing.TB, bin []byte) (api.Module, *meter, context.Context) {
	t.Helper()
	ib, err := instrument(bin)
	if err != nil {
		t.Fatalf("instrument: %v", err)
	}
	m := &meter{closing: new(atomic.Bool), b: bound{ctx: context.Background()}}
	ctx := context.WithValue(context.Background(), meterKey{}, m)
	mod, err := meterRuntime(t, true).InstantiateWithConfig(ctx, ib, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatalf("instantiate the instrumented module: %v", err)
	}
	return mod, m, ctx
}

// TestInstrumentPreservesBehaviour runs every export of featureModule on a set of
// arguments, original and instrumented, and compares the results.
func TestInstrumentPreservesBehaviour(t *testing.T) {
	bin := featureModule()
	ctx := context.Background()
	orig, err := meterRuntime(t, false).InstantiateWithConfig(ctx, bin, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatalf("the test module itself is invalid: %v", err)
	}
	inst, _, mctx := meteredInstance(t, bin)
	// The original module is the oracle; some values also by hand: sum(10) = 10+9+…+1 =
	// 55, fib(15) = 610, bulk(n) = 0xab (the byte filled), yield(n) = n (sched_yield
	// returns 0), isnull(x) = x (a function reference is not null), getg() = 42 (set by the
	// start function).
	want := map[string]map[uint64]uint64{
		"sum":    {0: 0, 10: 55},
		"fib":    {1: 1, 15: 610},
		"bulk":   {1: 0xab, 100: 0xab},
		"yield":  {0: 0, 5: 5},
		"isnull": {3: 3},
	}
	calls := []struct {
		fn   string
		args []uint64
	}{
		{"sum", []uint64{0}}, {"sum", []uint64{10}}, {"fib", []uint64{1}}, {"fib", []uint64{15}},
		{"dispatch", []uint64{0}}, {"dispatch", []uint64{1}}, {"dispatch", []uint64{2}},
		{"pair", []uint64{0}}, {"pair", []uint64{1}}, {"pair", []uint64{2}}, {"pair", []uint64{3}}, {"pair", []uint64{5}},
		{"bulk", []uint64{1}}, {"bulk", []uint64{100}}, {"yield", []uint64{0}}, {"yield", []uint64{5}},
		{"isnull", []uint64{3}}, {"getg", nil},
	}
	for _, c := range calls {
		t.Run(fmt.Sprint(c.fn, c.args), func(t *testing.T) {
			a, errA := orig.ExportedFunction(c.fn).Call(ctx, c.args...)
			b, errB := inst.ExportedFunction(c.fn).Call(mctx, c.args...)
			if errA != nil || errB != nil {
				t.Fatalf("original: %v %v; instrumented: %v %v", a, errA, b, errB)
			}
			if fmt.Sprint(a) != fmt.Sprint(b) {
				t.Fatalf("original returned %v, instrumented %v", a, b)
			}
			if len(c.args) == 0 {
				if a[0] != 42 {
					t.Fatalf("getg() = %d, want 42 (the start function sets it)", a[0])
				}
				return
			}
			if w, ok := want[c.fn][c.args[0]]; ok && a[0] != w {
				t.Fatalf("returned %d, want %d", a[0], w)
			}
		})
	}
	// The name section follows the functions to their new indices.
	for export, want := range map[string]string{"sum": "sum_loop", "fib": "fib_recursive"} {
		if got := inst.ExportedFunction(export).Definition().Name(); got != want {
			t.Errorf("export %s is named %q, want %q", export, got, want)
		}
	}
}

// countdown is a module whose run(n) loops n times; its one loop opens the body, so the
// function's entry is charged at the loop header: 6 instructions in the loop (the loop
// body's five and its end) plus 2 outside it (loop, the function's end) = 8 units per
// iteration.
func countdown() []byte {
	return wmod{funcs: []wfunc{{export: "run", params: []byte{tI32}, results: nil, body: cat(
		[]byte{opLoop, blockVoid}, local(0), i32c(1), []byte{opI32Sub, opLocalTee, 0, opBrIf, 0, opEnd})}}}.encode()
}

// TestMeterChecksOncePerBudget pins the charging: run(n) charges 8 units per iteration, and
// a check runs (and refills the budget) when the budget goes below zero: starting from
// meterBudget = 262144 = 8·32768, the first check comes at iteration 32769 and then every
// 32769 iterations, so n iterations make ⌊n / 32769⌋ checks.
func TestMeterChecksOncePerBudget(t *testing.T) {
	mod, m, ctx := meteredInstance(t, countdown())
	if _, err := mod.ExportedFunction("run").Call(ctx, 1_000_000); err != nil {
		t.Fatal(err)
	}
	if want := int64(1_000_000 / 32769); m.checks != want {
		t.Fatalf("%d checks, want %d", m.checks, want)
	}
}

// TestMeterStopsTheGuest checks each reason the check stops a call with: a closing policy,
// a done context, a passed deadline; and that a call within its bound runs to the end.
func TestMeterStopsTheGuest(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	cases := []struct {
		name    string
		closing bool
		b       bound
		code    uint32 // 0: no stop
	}{
		{"within bound", false, newBound(context.Background(), time.Hour), 0},
		{"closing", true, newBound(context.Background(), time.Hour), sys.ExitCodeContextCanceled},
		{"context canceled", false, newBound(canceled, 0), sys.ExitCodeContextCanceled},
		{"context deadline", false, newBound(expired, 0), sys.ExitCodeDeadlineExceeded},
		{"host deadline", false, bound{ctx: context.Background(), deadline: time.Now().Add(-time.Millisecond)}, sys.ExitCodeDeadlineExceeded},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mod, m, ctx := meteredInstance(t, countdown())
			m.closing.Store(tc.closing)
			m.b = tc.b
			_, err := mod.ExportedFunction("run").Call(ctx, 100_000)
			var exit *sys.ExitError
			switch {
			case tc.code == 0 && err != nil:
				t.Fatalf("stopped: %v", err)
			case tc.code != 0 && (!errors.As(err, &exit) || exit.ExitCode() != tc.code):
				t.Fatalf("error %v, want exit code %#x", err, tc.code)
			case tc.code != 0 && m.checks != 1:
				t.Fatalf("%d checks, want the first one to stop it", m.checks)
			}
		})
	}
}

// TestInstrumentRefuses checks that modules the rewrite cannot handle faithfully — or
// whose invalid indices the added import or globals would make valid — are refused.
func TestInstrumentRefuses(t *testing.T) {
	act := func(body ...[]byte) []byte { return baseModule().with(fnAct(body...)).encode() }
	cases := []struct {
		name string
		bin  []byte
		msg  string
	}{
		{"imports the reserved module", wmod{imports: []wimport{{module: meterModule, name: meterFunc}},
			funcs: []wfunc{{export: "f", body: []byte{opCall, 0}}}}.encode(), "reserves"},
		// The module has one global (0); index 1 would become the budget.
		{"sets a global it does not have", act([]byte{opI32Const, 0, opGlobalSet, 1}, i32c(0)), "global index 1 out of range"},
		{"calls a function it does not have", act([]byte{opCall, 9}, i32c(0)), "function index 9 out of range"},
		{"data offset from a global it does not have", func() []byte {
			m := baseModule()
			m.data = []wdata{{5, []byte("XYZ")}}
			bin := m.encode()
			seg := []byte{0x00, opI32Const, 5, opEnd, 3, 'X', 'Y', 'Z'}
			i := bytes.Index(bin, seg)
			bin[i+1], bin[i+2] = opGlobalGet, 1
			return bin
		}(), "global index 1 out of range"},
		{"tail call", act([]byte{0x12, 0}), "unsupported opcode 0x12"},
		{"exception handling", act([]byte{0x06, blockVoid, opEnd}, i32c(0)), "unsupported opcode 0x06"},
		{"truncated", baseModule().encode()[:40], "unexpected end"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := instrument(tc.bin)
			if !errors.Is(err, errInstrument) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want one saying %q", err, tc.msg)
			}
		})
	}
}

// TestRefusedModuleIsExplained checks the policy's error for a valid module the
// instrumentation refuses (one importing the reserved module): it says why and that
// interruptible: false would run it.
func TestRefusedModuleIsExplained(t *testing.T) {
	m := baseModule()
	m.imports = []wimport{{module: meterModule, name: meterFunc}}
	_, err := New(context.Background(), testConfig(writeModule(t, m.encode())), Options{Logger: quietLogger})
	if !errors.Is(err, ErrBadModule) || !strings.Contains(err.Error(), "interruptible: false") {
		t.Fatalf("error %v, want ErrBadModule mentioning interruptible: false", err)
	}
}

// FuzzInstrument feeds arbitrary bytes to the rewrite: it must never panic, and what it
// returns must be framed as a module. (The compiler is the oracle of FuzzInstrumentBody;
// on arbitrary headers it can take seconds and gigabytes to refuse a module.)
func FuzzInstrument(f *testing.F) {
	f.Add(featureModule())
	f.Add(countdown())
	f.Add(mirrorModule().encode())
	f.Fuzz(func(t *testing.T, bin []byte) {
		out, err := instrument(bin)
		if err == nil && !wellFramed(out) {
			t.Fatalf("the rewrite returned a malformed module for %x", bin)
		}
	})
}

// FuzzInstrumentBody puts arbitrary code in act's body (with a WASI import before the
// functions, and a table) and checks the rewrite against the compiler: every body the
// compiler accepts must be rewritten into a module it accepts too, and a body it refuses
// must not become acceptable.
func FuzzInstrumentBody(f *testing.F) {
	f.Add(cat([]byte{opLoop, blockVoid, opBr, 0, opEnd}, i32c(0)))
	f.Add(cat(i32c(0), i32c(0), i32c(8), opMemoryFill, i32c(0), i32c(8), []byte{opCall, 0}))
	f.Add(cat(i32c(1), []byte{opI32Eqz, opIf, tI32}, i32c(2), []byte{opElse}, i32c(3), []byte{opEnd}))
	f.Add(cat(i32c(0), []byte{opCallIndirect, 0, 0}))
	f.Add([]byte{opBlock, blockVoid, opLocalGet, 0, opBrTable, 1, 0, 0, opEnd, opI32Const, 1})
	f.Add([]byte{0xfd, 0x0c, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0xfd, 0x1b, 0, opDrop, opI32Const, 1})
	ctx := context.Background()
	plain := meterRuntime(f, false)
	metered := meterRuntime(f, true)
	f.Fuzz(func(t *testing.T, body []byte) {
		m := baseModule().with(fnAct(body))
		m.imports = []wimport{{module: WASIModule, name: "random_get", params: []byte{tI32, tI32}, results: []byte{tI32}}}
		bin := withTable(m.encode())
		out, err := instrument(bin)
		cm, cerr := plain.CompileModule(ctx, bin)
		if cerr != nil {
			if err == nil {
				if cm2, err2 := metered.CompileModule(ctx, out); err2 == nil {
					cm2.Close(ctx)
					t.Fatalf("the compiler refuses the body (%v), but accepts it rewritten", cerr)
				}
			}
			return
		}
		cm.Close(ctx)
		if err != nil {
			t.Fatalf("the compiler accepts the body, the rewrite refuses it: %v", err)
		}
		cm, err = metered.CompileModule(ctx, out)
		if err != nil {
			t.Fatalf("the rewritten module does not compile: %v", err)
		}
		cm.Close(ctx)
	})
}

// withTable adds a one-entry funcref table holding function 1 to a module encoded by
// wmod (inserting the table section after the function section and an element section
// before the code section).
func withTable(bin []byte) []byte {
	r := &reader{b: bin, off: 8}
	out := append([]byte(nil), bin[:8]...)
	for !r.done() {
		start := r.off
		id, _ := r.byte()
		n, _ := r.u32()
		r.off += int(n)
		if id == secCode {
			out = append(out, section(secElement, vec([][]byte{cat([]byte{0x00}, i32c(0), []byte{opEnd}, vec([][]byte{uleb(1)}))}))...)
		}
		out = append(out, bin[start:r.off]...)
		if id == secFunction {
			out = append(out, section(secTable, vec([][]byte{{tFuncref, 0x00, 1}}))...)
		}
	}
	return out
}

// wellFramed reports whether bin has the binary header and sections whose sizes fit.
func wellFramed(bin []byte) bool {
	if len(bin) < 8 || string(bin[:8]) != "\x00asm\x01\x00\x00\x00" {
		return false
	}
	r := &reader{b: bin, off: 8}
	for !r.done() {
		if _, err := r.byte(); err != nil {
			return false
		}
		n, err := r.u32()
		if err != nil {
			return false
		}
		if _, err := r.bytes(int(n)); err != nil {
			return false
		}
	}
	return true
}

// TestNewBound checks a bound's deadline is the earlier of the context's and now + limit,
// and its budget the time to it.
func TestNewBound(t *testing.T) {
	soon, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	late, cancel2 := context.WithTimeout(context.Background(), 2*time.Hour)
	defer cancel2()
	cases := []struct {
		name  string
		ctx   context.Context
		limit time.Duration
		// budget is the expected budget: exact when ctxDeadline is false, an upper bound
		// (time passes between the context's creation and the bound's) when true.
		budget      time.Duration
		ctxDeadline bool
	}{
		{"unbounded", context.Background(), 0, 0, false},
		{"host limit", context.Background(), time.Hour, time.Hour, false},
		{"context ends sooner", soon, time.Hour, time.Second, true},
		{"context ends later", late, time.Hour, time.Hour, false},
		{"context only", soon, 0, time.Second, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBound(tc.ctx, tc.limit)
			switch {
			case tc.budget == 0 && (!b.deadline.IsZero() || b.budget != 0):
				t.Fatalf("bound %+v, want none", b)
			case tc.ctxDeadline:
				dl, _ := tc.ctx.Deadline()
				if !b.deadline.Equal(dl) || b.budget <= 0 || b.budget > tc.budget {
					t.Fatalf("deadline %v budget %v, want the context's deadline %v and a budget in (0, %v]", b.deadline, b.budget, dl, tc.budget)
				}
			case tc.budget != 0 && b.budget != tc.budget:
				t.Fatalf("budget %v, want %v", b.budget, tc.budget)
			}
		})
	}
}

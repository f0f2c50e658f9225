package wasm

import (
	"errors"
	"fmt"
	"strings"
)

// Deadlines without wazero's per-iteration exits.
//
// wazero enforces a context's deadline inside running code (WithCloseOnContextDone) by
// leaving native code for Go at every loop iteration: a full exit and re-entry, tens of
// nanoseconds each, taken unconditionally on every back-edge. Go's WebAssembly output
// routes every jump through its function's dispatch loop, so a Go guest pays that exit
// for almost every basic block, which made the exported 64×64 MLP 5–15× slower than
// uninterruptible (the exits also get slower when the machine is loaded).
//
// Instead, the host rewrites an interruptible module before compiling it (instrument),
// charging an instruction budget inline and calling back into the host only when the
// budget runs out:
//
//   - a mutable i32 global, the budget, starts at meterBudget;
//   - at every function entry and loop header the static cost of the code that can run
//     before the next such point is subtracted (the instructions of the function or
//     loop body outside nested loops, an upper bound on one pass through it); when the
//     budget goes negative, it is refilled and the imported host function
//     scalelab_meter.check runs, which stops the guest (a *sys.ExitError panic, as WASI
//     proc_exit does) when its deadline has passed, its context is done or its policy is
//     closing;
//   - memory.copy, memory.fill and memory.init are charged their length / 16 before they
//     run, checking at once when that exhausts the budget;
//   - calls to imported (WASI) functions, memory.grow, the table bulk operations and —
//     when a table may hold an imported function — call_indirect check unconditionally
//     before they run, since their cost is not bounded by an instruction count.
//
// So between two checks the guest runs at most meterBudget instruction units, plus the
// body of one loop or function and one bulk operation or host call, each bounded by the
// module's size and the memory limit: a guest that never returns is stopped within about
// a millisecond of its deadline, and the exits to Go that let the Go scheduler and garbage
// collector make progress happen at least as often. The common path costs a load, a
// subtraction, a store and a predictable branch per loop iteration.
//
// The instrumentation needs no knowledge of the guest's language. Its guarantee rests on
// seeing the same instructions as the compiler: a loop the rewrite missed would run
// unchecked. So the decoder frames instructions exactly as wazero does where wazero
// departs from the specification's encoding (a SIMD opcode is one byte; a block type is a
// signed LEB128 integer of any length), and it refuses what it cannot frame or rewrite
// faithfully: opcodes outside the core features the host enables, reference types with a
// heap type, indices the module does not define (which the added import and globals would
// otherwise make valid). The compiler then validates the rewritten module. FuzzInstrumentBody
// checks the two agree on which function bodies are valid.

// The import the instrumentation adds, and its budget.
const (
	// meterModule and meterFunc name the host function the instrumented module imports.
	// A module may not import from meterModule itself.
	meterModule = "scalelab_meter"
	meterFunc   = "check"
	// meterBudget is how many instruction units a guest runs between two host checks
	// (about 0.1–1 ms of guest code).
	meterBudget = 1 << 18
	// bulkShift charges memory.copy/fill/init one unit per 2^bulkShift bytes.
	bulkShift = 4
)

// errInstrument wraps every reason a module cannot be instrumented.
var errInstrument = errors.New("cannot add deadline checks")

// Section ids.
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
)

// sectionRank is the position of a non-custom section in a module (the binary format's
// order: data count comes before code).
var sectionRank = map[byte]int{
	secType: 1, secImport: 2, secFunction: 3, secTable: 4, secMemory: 5, secGlobal: 6,
	secExport: 7, secStart: 8, secElement: 9, secDataCount: 10, secCode: 11, secData: 12,
}

// Opcodes the instrumentation reads or writes.
const (
	mUnreachable  = 0x00
	mBlock        = 0x02
	mLoop         = 0x03
	mIf           = 0x04
	mElse         = 0x05
	mEnd          = 0x0b
	mBrTable      = 0x0e
	mCall         = 0x10
	mCallIndirect = 0x11
	mSelectT      = 0x1c
	mGlobalGet    = 0x23
	mGlobalSet    = 0x24
	mMemoryGrow   = 0x40
	mI32Const     = 0x41
	mI64Const     = 0x42
	mF32Const     = 0x43
	mF64Const     = 0x44
	mI32LtS       = 0x48
	mI32Sub       = 0x6b
	mI32ShrU      = 0x76
	mRefNull      = 0xd0
	mRefFunc      = 0xd2
	mPrefixFC     = 0xfc
	mPrefixSIMD   = 0xfd
	mEmptyBlock   = 0x40
)

// reader decodes a byte slice; errors name the offset.
type reader struct {
	b   []byte
	off int
	// base is added to offsets in errors (the slice's position in the module).
	base int
}

func (r *reader) errorf(format string, a ...any) error {
	return fmt.Errorf("%w: offset %#x: %s", errInstrument, r.base+r.off, fmt.Sprintf(format, a...))
}

func (r *reader) done() bool { return r.off >= len(r.b) }

func (r *reader) byte() (byte, error) {
	if r.off >= len(r.b) {
		return 0, r.errorf("unexpected end")
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

func (r *reader) bytes(n int) ([]byte, error) {
	if n < 0 || len(r.b)-r.off < n {
		return nil, r.errorf("unexpected end (want %d bytes)", n)
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s, nil
}

// leb reads an unsigned LEB128 integer of at most maxBits bits.
func (r *reader) leb(maxBits uint) (uint64, error) {
	if r.off < len(r.b) && r.b[r.off] < 0x80 { // one byte: most indices and constants
		r.off++
		return uint64(r.b[r.off-1]), nil
	}
	var v uint64
	for shift := uint(0); ; shift += 7 {
		if shift >= 7*((maxBits+6)/7) {
			return 0, r.errorf("LEB128 integer too long")
		}
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, nil
		}
	}
}

func (r *reader) u32() (uint32, error) {
	v, err := r.leb(32)
	if err == nil && v > 1<<32-1 {
		return 0, r.errorf("u32 out of range")
	}
	return uint32(v), err
}

// skipLEB skips a (signed or unsigned) LEB128 integer of at most maxBits bits.
func (r *reader) skipLEB(maxBits uint) error {
	_, err := r.leb(maxBits)
	return err
}

// name reads a length-prefixed name.
func (r *reader) name() (string, error) {
	n, err := r.u32()
	if err != nil {
		return "", err
	}
	b, err := r.bytes(int(n))
	return string(b), err
}

// writer helpers.
func appendULEB(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendSLEB(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendName(b []byte, s string) []byte {
	return append(appendULEB(b, uint64(len(s))), s...)
}

func appendSection(b []byte, id byte, payload []byte) []byte {
	return append(appendULEB(append(b, id), uint64(len(payload))), payload...)
}

// rawSection is one section of a module.
type rawSection struct {
	id   byte
	data []byte
	// off is the payload's offset in the module.
	off int
}

// moduleInfo is what the rewrite needs to know about the original module.
type moduleInfo struct {
	types                 uint32
	importFuncs, funcs    uint32 // imported functions; all functions (imported + defined)
	importGlobals, global uint32 // imported globals; all globals
	// importRef is true when an imported function's index appears where a table can get
	// it (element segments, ref.func), so call_indirect may reach the host.
	importRef bool
}

// Indices the rewrite adds.
func (mi *moduleInfo) checkFunc() uint32    { return mi.importFuncs }
func (mi *moduleInfo) budgetGlobal() uint32 { return mi.global }
func (mi *moduleInfo) scratchGlobal() uint32 {
	return mi.global + 1
}

// shiftFunc maps an original function index to the rewritten module's: the added import
// comes after the original imports, so defined functions move up by one.
func (mi *moduleInfo) shiftFunc(r *reader, idx uint32) (uint32, error) {
	if idx >= mi.funcs {
		return 0, r.errorf("function index %d out of range (%d functions)", idx, mi.funcs)
	}
	if idx >= mi.importFuncs {
		idx++
	}
	return idx, nil
}

// instrument returns bin rewritten with the deadline checks described at the top of
// this file. It checks the module only as far as the rewrite needs; the compiler
// validates the result.
func instrument(bin []byte) ([]byte, error) {
	if len(bin) < 8 || string(bin[:4]) != "\x00asm" || string(bin[4:8]) != "\x01\x00\x00\x00" {
		return nil, fmt.Errorf("%w: not a WebAssembly 1.0 binary module", errInstrument)
	}
	var secs []rawSection
	r := &reader{b: bin, off: 8}
	for !r.done() {
		id, err := r.byte()
		if err != nil {
			return nil, err
		}
		n, err := r.u32()
		if err != nil {
			return nil, err
		}
		off := r.off
		data, err := r.bytes(int(n))
		if err != nil {
			return nil, err
		}
		if id != secCustom {
			if _, ok := sectionRank[id]; !ok {
				return nil, r.errorf("unsupported section id %d", id)
			}
			for _, s := range secs {
				if s.id == id {
					return nil, r.errorf("section id %d appears twice", id)
				}
			}
		}
		secs = append(secs, rawSection{id: id, data: data, off: off})
	}
	find := func(id byte) *rawSection {
		for i := range secs {
			if secs[i].id == id {
				return &secs[i]
			}
		}
		return nil
	}
	if find(secCode) == nil {
		return bin, nil // nothing runs
	}

	// Counts of the index spaces.
	var mi moduleInfo
	if s := find(secType); s != nil {
		r := &reader{b: s.data, base: s.off}
		n, err := r.u32()
		if err != nil {
			return nil, err
		}
		mi.types = n
	}
	if s := find(secImport); s != nil {
		if err := mi.readImports(s); err != nil {
			return nil, err
		}
	}
	mi.funcs, mi.global = mi.importFuncs, mi.importGlobals
	if s := find(secFunction); s != nil {
		r := &reader{b: s.data, base: s.off}
		n, err := r.u32()
		if err != nil {
			return nil, err
		}
		for i := uint32(0); i < n; i++ {
			t, err := r.u32()
			if err != nil {
				return nil, err
			}
			if t >= mi.types {
				return nil, r.errorf("function %d has type %d out of range", i, t)
			}
		}
		mi.funcs += n
	}
	if s := find(secGlobal); s != nil {
		r := &reader{b: s.data, base: s.off}
		n, err := r.u32()
		if err != nil {
			return nil, err
		}
		mi.global += n
	}

	// Rewrite the sections that hold function or global indices; collect whether an
	// imported function can reach a table.
	out := map[byte][]byte{}
	var err error
	if s := find(secGlobal); s != nil {
		if out[secGlobal], err = mi.rewriteGlobals(s); err != nil {
			return nil, err
		}
	} else {
		out[secGlobal] = mi.appendMeterGlobals(nil, 0)
	}
	if s := find(secElement); s != nil {
		if out[secElement], err = mi.rewriteElements(s); err != nil {
			return nil, err
		}
	}
	if s := find(secExport); s != nil {
		if out[secExport], err = mi.rewriteExports(s); err != nil {
			return nil, err
		}
	}
	if s := find(secStart); s != nil {
		r := &reader{b: s.data, base: s.off}
		idx, err := r.u32()
		if err != nil {
			return nil, err
		}
		if idx, err = mi.shiftFunc(r, idx); err != nil {
			return nil, err
		}
		out[secStart] = appendULEB(nil, uint64(idx))
	}
	if s := find(secData); s != nil {
		if err := mi.checkData(s); err != nil {
			return nil, err
		}
	}
	code := find(secCode)
	weights, err := mi.analyzeCode(code)
	if err != nil {
		return nil, err
	}
	if out[secCode], err = mi.rewriteCode(code, weights); err != nil {
		return nil, err
	}
	// The added type () → () and the import of the check function.
	newType := mi.types
	if s := find(secType); s != nil {
		out[secType] = appendVecItem(s.data, []byte{0x60, 0, 0})
	} else {
		out[secType] = []byte{1, 0x60, 0, 0}
	}
	imp := appendULEB(appendName(appendName(nil, meterModule), meterFunc), 0) // kind func
	imp = appendULEB(imp, uint64(newType))
	if s := find(secImport); s != nil {
		out[secImport] = appendVecItem(s.data, imp)
	} else {
		out[secImport] = append([]byte{1}, imp...)
	}

	// Reassemble in order, adding the sections the module lacked at their place.
	res := make([]byte, 0, len(bin)+len(bin)/4)
	res = append(res, bin[:8]...)
	emitted := map[byte]bool{}
	emitMissing := func(before int) {
		for _, id := range []byte{secType, secImport, secGlobal} {
			if !emitted[id] && find(id) == nil && sectionRank[id] < before {
				res = appendSection(res, id, out[id])
				emitted[id] = true
			}
		}
	}
	for _, s := range secs {
		if s.id == secCustom {
			cr := &reader{b: s.data, base: s.off}
			name, err := cr.name()
			if err != nil {
				return nil, err
			}
			switch {
			case strings.HasPrefix(name, ".debug_"):
				// DWARF addresses code offsets, which the rewrite moves.
				continue
			case name == "name":
				if names, err := mi.rewriteNames(s.data[cr.off:], s.off+cr.off); err == nil {
					res = appendSection(res, secCustom, append(appendName(nil, name), names...))
				}
				// A malformed name section is dropped (custom sections are not validated).
				continue
			}
			res = appendSection(res, s.id, s.data)
			continue
		}
		emitMissing(sectionRank[s.id])
		data := s.data
		if d, ok := out[s.id]; ok {
			data = d
		}
		res = appendSection(res, s.id, data)
		emitted[s.id] = true
	}
	emitMissing(1 << 30)
	return res, nil
}

// appendVecItem appends an encoded item to a vector's encoding (count, items).
func appendVecItem(vec []byte, item []byte) []byte {
	r := &reader{b: vec}
	n, err := r.u32()
	if err != nil {
		n, r.off = 0, len(vec)
	}
	out := appendULEB(nil, uint64(n)+1)
	out = append(out, vec[r.off:]...)
	return append(out, item...)
}

// readLimits skips table or memory limits.
func readLimits(r *reader) error {
	flags, err := r.byte()
	if err != nil {
		return err
	}
	if flags&^0x03 != 0 {
		return r.errorf("unsupported limits flags %#x (64-bit or custom-page memory)", flags)
	}
	if err := r.skipLEB(32); err != nil {
		return err
	}
	if flags&1 != 0 {
		return r.skipLEB(32)
	}
	return nil
}

// readImports counts imported functions and globals and refuses imports of the reserved
// module.
func (mi *moduleInfo) readImports(s *rawSection) error {
	r := &reader{b: s.data, base: s.off}
	n, err := r.u32()
	if err != nil {
		return err
	}
	for i := uint32(0); i < n; i++ {
		mod, err := r.name()
		if err != nil {
			return err
		}
		if mod == meterModule {
			return r.errorf("the module imports from %q, a module name the host reserves", meterModule)
		}
		if _, err := r.name(); err != nil {
			return err
		}
		kind, err := r.byte()
		if err != nil {
			return err
		}
		switch kind {
		case 0x00: // function
			t, err := r.u32()
			if err != nil {
				return err
			}
			if t >= mi.types {
				return r.errorf("imported function has type %d out of range", t)
			}
			mi.importFuncs++
		case 0x01: // table
			t, err := r.byte()
			if err != nil {
				return err
			}
			if !simpleValueType(t) {
				return r.errorf("unsupported table type %#02x", t)
			}
			if err := readLimits(r); err != nil {
				return err
			}
		case 0x02: // memory
			if err := readLimits(r); err != nil {
				return err
			}
		case 0x03: // global
			t, err := r.bytes(2)
			if err != nil {
				return err
			}
			if !simpleValueType(t[0]) {
				return r.errorf("unsupported imported global type %#02x", t[0])
			}
			mi.importGlobals++
		default:
			return r.errorf("unsupported import kind %#x", kind)
		}
	}
	return nil
}

// appendMeterGlobals appends the budget (mutable i32 = meterBudget) and the scratch
// (mutable i32 = 0) globals' declarations to a global section body with n globals,
// rewriting its count.
func (mi *moduleInfo) appendMeterGlobals(body []byte, n uint32) []byte {
	out := appendULEB(nil, uint64(n)+2)
	out = append(out, body...)
	out = append(out, 0x7f, 0x01, mI32Const)
	out = appendSLEB(out, meterBudget)
	out = append(out, mEnd, 0x7f, 0x01, mI32Const, 0, mEnd)
	return out
}

// rewriteGlobals shifts ref.func in the initialisers and appends the meter's globals.
func (mi *moduleInfo) rewriteGlobals(s *rawSection) ([]byte, error) {
	r := &reader{b: s.data, base: s.off}
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	var body []byte
	for i := uint32(0); i < n; i++ {
		t, err := r.bytes(2) // value type, mutability
		if err != nil {
			return nil, err
		}
		if !simpleValueType(t[0]) {
			return nil, r.errorf("unsupported global type %#02x", t[0])
		}
		body = append(body, t...)
		if body, err = mi.rewriteConstExpr(r, body); err != nil {
			return nil, err
		}
	}
	return mi.appendMeterGlobals(body, n), nil
}

// rewriteConstExpr copies a constant expression up to its end, shifting ref.func and
// checking global.get.
func (mi *moduleInfo) rewriteConstExpr(r *reader, out []byte) ([]byte, error) {
	for {
		in, err := mi.decode(r)
		if err != nil {
			return nil, err
		}
		if in.op == mRefFunc && in.idx < mi.importFuncs {
			mi.importRef = true
		}
		out, err = mi.emitInsn(r, in, out)
		if err != nil {
			return nil, err
		}
		if in.op == mEnd {
			return out, nil
		}
	}
}

// rewriteElements shifts the function indices of element segments.
func (mi *moduleInfo) rewriteElements(s *rawSection) ([]byte, error) {
	r := &reader{b: s.data, base: s.off}
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	out := appendULEB(nil, uint64(n))
	for i := uint32(0); i < n; i++ {
		flags, err := r.u32()
		if err != nil {
			return nil, err
		}
		if flags > 7 {
			return nil, r.errorf("element segment flags %d", flags)
		}
		out = appendULEB(out, uint64(flags))
		if flags&0x02 != 0 && flags&0x01 == 0 { // explicit table index
			t, err := r.u32()
			if err != nil {
				return nil, err
			}
			out = appendULEB(out, uint64(t))
		}
		if flags&0x01 == 0 { // active: offset expression
			if out, err = mi.rewriteConstExpr(r, out); err != nil {
				return nil, err
			}
		}
		if flags&0x03 != 0 { // element kind (0x00) or reference type
			k, err := r.byte()
			if err != nil {
				return nil, err
			}
			if k != 0x00 && !simpleValueType(k) {
				return nil, r.errorf("unsupported element type %#02x", k)
			}
			out = append(out, k)
		}
		cnt, err := r.u32()
		if err != nil {
			return nil, err
		}
		out = appendULEB(out, uint64(cnt))
		for j := uint32(0); j < cnt; j++ {
			if flags&0x04 != 0 { // expressions
				if out, err = mi.rewriteConstExpr(r, out); err != nil {
					return nil, err
				}
				continue
			}
			idx, err := r.u32()
			if err != nil {
				return nil, err
			}
			if idx < mi.importFuncs {
				mi.importRef = true
			}
			if idx, err = mi.shiftFunc(r, idx); err != nil {
				return nil, err
			}
			out = appendULEB(out, uint64(idx))
		}
	}
	return out, nil
}

// checkData checks the data segments' offset expressions (the section is kept as is): a
// global.get must not name a global the original module does not have.
func (mi *moduleInfo) checkData(s *rawSection) error {
	r := &reader{b: s.data, base: s.off}
	n, err := r.u32()
	if err != nil {
		return err
	}
	for i := uint32(0); i < n; i++ {
		flags, err := r.u32()
		if err != nil {
			return err
		}
		switch flags {
		case 2: // active with a memory index
			if err := r.skipLEB(32); err != nil {
				return err
			}
			fallthrough
		case 0: // active
			if _, err := mi.rewriteConstExpr(r, nil); err != nil {
				return err
			}
		case 1: // passive
		default:
			return r.errorf("data segment flags %d", flags)
		}
		size, err := r.u32()
		if err != nil {
			return err
		}
		if _, err := r.bytes(int(size)); err != nil {
			return err
		}
	}
	return nil
}

// rewriteExports shifts exported function indices and refuses exports of globals the
// original module does not have.
func (mi *moduleInfo) rewriteExports(s *rawSection) ([]byte, error) {
	r := &reader{b: s.data, base: s.off}
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	out := appendULEB(nil, uint64(n))
	for i := uint32(0); i < n; i++ {
		name, err := r.name()
		if err != nil {
			return nil, err
		}
		kind, err := r.byte()
		if err != nil {
			return nil, err
		}
		idx, err := r.u32()
		if err != nil {
			return nil, err
		}
		switch kind {
		case 0x00:
			if idx, err = mi.shiftFunc(r, idx); err != nil {
				return nil, err
			}
		case 0x03:
			if idx >= mi.global {
				return nil, r.errorf("export %q: global index %d out of range", name, idx)
			}
		}
		out = appendULEB(append(appendName(out, name), kind), uint64(idx))
	}
	return out, nil
}

// rewriteNames shifts the function indices of the name section's function, local and
// label name maps; the other subsections are kept.
func (mi *moduleInfo) rewriteNames(data []byte, base int) ([]byte, error) {
	r := &reader{b: data, base: base}
	var out []byte
	for !r.done() {
		id, err := r.byte()
		if err != nil {
			return nil, err
		}
		size, err := r.u32()
		if err != nil {
			return nil, err
		}
		sub, err := r.bytes(int(size))
		if err != nil {
			return nil, err
		}
		if id >= 1 && id <= 3 { // function names, local names, label names: keyed by function
			sr := &reader{b: sub, base: r.base + r.off - len(sub)}
			n, err := sr.u32()
			if err != nil {
				return nil, err
			}
			body := appendULEB(nil, uint64(n))
			for i := uint32(0); i < n; i++ {
				idx, err := sr.u32()
				if err != nil {
					return nil, err
				}
				if idx, err = mi.shiftFunc(sr, idx); err != nil {
					return nil, err
				}
				body = appendULEB(body, uint64(idx))
				start := sr.off
				if id == 1 {
					_, err = sr.name()
				} else { // a name map: vec(index, name)
					var m uint32
					if m, err = sr.u32(); err == nil {
						for j := uint32(0); j < m && err == nil; j++ {
							if _, err = sr.u32(); err == nil {
								_, err = sr.name()
							}
						}
					}
				}
				if err != nil {
					return nil, err
				}
				body = append(body, sub[start:sr.off]...)
			}
			sub = body
		}
		out = appendSection(out, id, sub)
	}
	return out, nil
}

// insn is one decoded instruction.
type insn struct {
	op  byte
	sub uint32 // the sub-opcode after a prefix byte
	// start and end delimit the instruction's bytes.
	start, end int
	// idx is the function index of call and ref.func.
	idx uint32
}

// Immediate kinds of one-byte opcodes, for decode.
const (
	immBad = iota
	immNone
	immBlock
	immIndex // one LEB128 index: label, local, table, memory
	immBrTable
	immFunc // call, ref.func
	immCallIndirect
	immSelectT
	immGlobal
	immMemarg
	immI32
	immI64
	immF32
	immF64
	immRefNull
	immPrefixFC
	immPrefixSIMD
)

// immKinds maps an opcode to its immediates.
var immKinds = func() (k [256]uint8) {
	set := func(kind uint8, ops ...int) {
		for _, op := range ops {
			k[op] = kind
		}
	}
	set(immNone, mUnreachable, 0x01, mElse, mEnd, 0x0f, 0x1a, 0x1b, 0xd1)
	for op := 0x45; op <= 0xc4; op++ {
		k[op] = immNone
	}
	set(immBlock, mBlock, mLoop, mIf)
	set(immIndex, 0x0c, 0x0d, 0x20, 0x21, 0x22, 0x25, 0x26, 0x3f, mMemoryGrow)
	set(immBrTable, mBrTable)
	set(immFunc, mCall, mRefFunc)
	set(immCallIndirect, mCallIndirect)
	set(immSelectT, mSelectT)
	set(immGlobal, mGlobalGet, mGlobalSet)
	for op := 0x28; op <= 0x3e; op++ {
		k[op] = immMemarg
	}
	set(immI32, mI32Const)
	set(immI64, mI64Const)
	set(immF32, mF32Const)
	set(immF64, mF64Const)
	set(immRefNull, mRefNull)
	set(immPrefixFC, mPrefixFC)
	set(immPrefixSIMD, mPrefixSIMD)
	return k
}()

// decode reads one instruction, checking the indices the rewrite could otherwise make
// valid: globals and types the original module does not have, function indices in range.
func (mi *moduleInfo) decode(r *reader) (insn, error) {
	in := insn{start: r.off}
	op, err := r.byte()
	if err != nil {
		return in, err
	}
	in.op = op
	switch immKinds[op] {
	case immNone:
	case immBlock:
		err = mi.blockType(r)
	case immIndex, immI32:
		err = r.skipLEB(32)
	case immBrTable:
		var n uint32
		if n, err = r.u32(); err == nil {
			for i := uint32(0); i <= n && err == nil; i++ {
				err = r.skipLEB(32)
			}
		}
	case immFunc:
		if in.idx, err = r.u32(); err == nil && in.idx >= mi.funcs {
			err = r.errorf("function index %d out of range (%d functions)", in.idx, mi.funcs)
		}
	case immCallIndirect:
		var t uint32
		if t, err = r.u32(); err == nil {
			if t >= mi.types {
				err = r.errorf("call_indirect type %d out of range", t)
			} else {
				err = r.skipLEB(32)
			}
		}
	case immSelectT:
		// One value type, read as bytes, as the compiler does.
		var b []byte
		if b, err = r.bytes(2); err == nil && (b[0] != 1 || !simpleValueType(b[1])) {
			err = r.errorf("unsupported select type immediate %#x", b)
		}
	case immGlobal:
		var g uint32
		if g, err = r.u32(); err == nil && g >= mi.global {
			err = r.errorf("global index %d out of range (%d globals)", g, mi.global)
		}
	case immMemarg:
		err = memarg(r)
	case immI64:
		err = r.skipLEB(64)
	case immF32:
		_, err = r.bytes(4)
	case immF64:
		_, err = r.bytes(8)
	case immRefNull:
		var c byte
		if c, err = r.byte(); err == nil && c != 0x70 && c != 0x6f && c != 0x69 {
			err = r.errorf("unsupported ref.null type %#02x", c)
		}
	case immPrefixFC:
		if in.sub, err = r.u32(); err != nil {
			break
		}
		switch {
		case in.sub <= 7: // saturating truncations
		case in.sub == 8, in.sub == 10, in.sub == 12, in.sub == 14: // memory.init, memory.copy, table.init, table.copy
			if err = r.skipLEB(32); err == nil {
				err = r.skipLEB(32)
			}
		case in.sub == 9, in.sub == 11, in.sub == 13, in.sub >= 15 && in.sub <= 17: // data.drop, memory.fill, elem.drop, table.grow/size/fill
			err = r.skipLEB(32)
		default:
			err = r.errorf("unsupported opcode 0xfc %d", in.sub)
		}
	case immPrefixSIMD:
		// The compiler reads the SIMD opcode as one byte (the spec's LEB128 encoding of
		// opcodes ≥ 128 then continues with 0x01, which it decodes as nop): so do we, so
		// that both see the same instructions whatever the encoding.
		var c byte
		if c, err = r.byte(); err != nil {
			break
		}
		in.sub = uint32(c)
		switch s := in.sub; {
		case s <= 0x0b, s == 0x5c, s == 0x5d: // loads, store, load_zero
			err = memarg(r)
		case s == 0x0c, s == 0x0d: // v128.const, i8x16.shuffle
			_, err = r.bytes(16)
		case s >= 0x15 && s <= 0x22: // extract_lane, replace_lane
			_, err = r.byte()
		case s >= 0x54 && s <= 0x5b: // load_lane, store_lane
			if err = memarg(r); err == nil {
				_, err = r.byte()
			}
		}
	default:
		err = r.errorf("unsupported opcode %#02x", op)
	}
	in.end = r.off
	return in, err
}

// blockType reads a block type — empty, a value type, or a type index — as a signed
// 33-bit LEB128 integer, as the compiler does (so also in non-minimal encodings).
func (mi *moduleInfo) blockType(r *reader) error {
	v, err := r.s33()
	if err != nil {
		return err
	}
	switch {
	case v == -64, v >= -5 && v <= -1, v == -16, v == -17: // empty, i32 i64 f32 f64 v128, funcref, externref
		return nil
	case v < 0:
		return r.errorf("unsupported block type %d", v)
	case v >= int64(mi.types):
		return r.errorf("block type index %d out of range", v)
	}
	return nil
}

// s33 reads a signed LEB128 integer of at most 33 bits (5 bytes).
func (r *reader) s33() (int64, error) {
	var v int64
	for shift := uint(0); ; shift += 7 {
		if shift >= 35 {
			return 0, r.errorf("LEB128 integer too long")
		}
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		v |= int64(c&0x7f) << shift
		if c&0x80 == 0 {
			if c&0x40 != 0 {
				v |= -1 << (shift + 7)
			}
			return v, nil
		}
	}
}

// simpleValueType reports a value type encoded as one byte: i32, i64, f32, f64, v128,
// funcref, externref. Reference types with a heap type (0x63, 0x64) are refused: the
// rewrite would have to frame them as the compiler does, and no guest toolchain for the
// host's core features emits them.
func simpleValueType(c byte) bool {
	switch c {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
		return true
	}
	return false
}

// memarg skips a memory argument: alignment and offset (32-bit memory, one memory).
func memarg(r *reader) error {
	if _, err := r.u32(); err != nil {
		return err
	}
	_, err := r.u32()
	return err
}

// What the rewrite inserts before an instruction.
const (
	insertNone = iota
	// insertCheck calls the check function unconditionally.
	insertCheck
	// insertBulk charges the length operand of a bulk memory operation.
	insertBulk
)

// insertion says what goes before in.
func (mi *moduleInfo) insertion(in insn) int {
	switch in.op {
	case mCall:
		if in.idx < mi.importFuncs {
			return insertCheck
		}
	case mCallIndirect:
		if mi.importRef {
			return insertCheck
		}
	case mMemoryGrow:
		return insertCheck
	case mPrefixFC:
		switch in.sub {
		case 8, 10, 11: // memory.init, memory.copy, memory.fill
			return insertBulk
		case 12, 14, 15, 17: // table.init, table.copy, table.grow, table.fill
			return insertCheck
		}
	}
	return insertNone
}

// emitInsn appends in, shifting the function index of call and ref.func.
func (mi *moduleInfo) emitInsn(r *reader, in insn, out []byte) ([]byte, error) {
	if in.op != mCall && in.op != mRefFunc {
		return append(out, r.b[in.start:in.end]...), nil
	}
	idx, err := mi.shiftFunc(r, in.idx)
	if err != nil {
		return nil, err
	}
	return appendULEB(append(out, in.op), uint64(idx)), nil
}

// functionWeights are the charges of one function: its entry (entry < 0: none, folded into
// the first loop) and each loop header in order.
type functionWeights struct {
	entry int64
	loops []int64
}

// analyzeCode decodes every function body once, computing the charge of each function
// entry and loop header and whether a ref.func names an imported function.
func (mi *moduleInfo) analyzeCode(s *rawSection) ([]functionWeights, error) {
	r := &reader{b: s.data, base: s.off}
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	if n != mi.funcs-mi.importFuncs {
		return nil, r.errorf("%d function bodies for %d functions", n, mi.funcs-mi.importFuncs)
	}
	ws := make([]functionWeights, n)
	// regions[k] is the index in weights of the k-th open construct's region: the
	// function (0) or the innermost enclosing loop.
	var regions []int
	for f := range ws {
		size, err := r.u32()
		if err != nil {
			return nil, err
		}
		body, err := r.bytes(int(size))
		if err != nil {
			return nil, err
		}
		br := &reader{b: body, base: r.base + r.off - int(size)}
		if err := skipLocals(br); err != nil {
			return nil, err
		}
		weights := []int64{0}
		regions = append(regions[:0], 0)
		first := true
		firstIsLoop := false
		for len(regions) > 0 {
			in, err := mi.decode(br)
			if err != nil {
				return nil, fmt.Errorf("function %d: %w", mi.importFuncs+uint32(f), err)
			}
			cur := regions[len(regions)-1]
			weights[cur]++
			switch in.op {
			case mBlock, mIf:
				regions = append(regions, cur)
			case mLoop:
				if first {
					firstIsLoop = true
				}
				weights = append(weights, 0)
				regions = append(regions, len(weights)-1)
			case mEnd:
				regions = regions[:len(regions)-1]
			case mRefFunc:
				if in.idx < mi.importFuncs {
					mi.importRef = true
				}
			}
			first = false
		}
		if !br.done() {
			return nil, br.errorf("function %d: code after the body's end", mi.importFuncs+uint32(f))
		}
		fw := functionWeights{entry: weights[0], loops: weights[1:]}
		if firstIsLoop {
			// The body starts with a loop (as every Go function with more than one basic
			// block does): charge the entry's code at that loop's header instead.
			fw.loops[0] += fw.entry
			fw.entry = -1
		}
		ws[f] = fw
	}
	if !r.done() {
		return nil, r.errorf("trailing bytes in the code section")
	}
	return ws, nil
}

// skipLocals skips a function body's local declarations.
func skipLocals(r *reader) error {
	n, err := r.u32()
	if err != nil {
		return err
	}
	for i := uint32(0); i < n; i++ {
		if err := r.skipLEB(32); err != nil {
			return err
		}
		t, err := r.byte()
		if err != nil {
			return err
		}
		if !simpleValueType(t) {
			return r.errorf("unsupported local type %#02x", t)
		}
	}
	return nil
}

// rewriteCode re-encodes every function body with the charges and checks.
func (mi *moduleInfo) rewriteCode(s *rawSection, ws []functionWeights) ([]byte, error) {
	r := &reader{b: s.data, base: s.off}
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	out := appendULEB(make([]byte, 0, len(s.data)+len(s.data)/4), uint64(n))
	var body []byte
	for f := uint32(0); f < n; f++ {
		size, _ := r.u32()
		raw, _ := r.bytes(int(size))
		br := &reader{b: raw, base: r.base + r.off - int(size)}
		if err := skipLocals(br); err != nil {
			return nil, err
		}
		body = append(body[:0], raw[:br.off]...)
		fw := ws[f]
		if fw.entry >= 0 {
			body = mi.appendCharge(body, fw.entry)
		}
		loop := 0
		for !br.done() {
			in, err := mi.decode(br)
			if err != nil {
				return nil, err
			}
			switch mi.insertion(in) {
			case insertCheck:
				body = appendULEB(append(body, mCall), uint64(mi.checkFunc()))
			case insertBulk:
				body = mi.appendBulkCharge(body)
			}
			if body, err = mi.emitInsn(br, in, body); err != nil {
				return nil, err
			}
			if in.op == mLoop {
				body = mi.appendCharge(body, fw.loops[loop])
				loop++
			}
		}
		out = appendULEB(out, uint64(len(body)))
		out = append(out, body...)
	}
	return out, nil
}

// appendCharge appends: budget -= w; if budget < 0 { budget = meterBudget; check() }.
func (mi *moduleInfo) appendCharge(b []byte, w int64) []byte {
	g := uint64(mi.budgetGlobal())
	b = appendULEB(append(b, mGlobalGet), g)
	b = appendSLEB(append(b, mI32Const), min(w, meterBudget))
	b = append(b, mI32Sub)
	b = appendULEB(append(b, mGlobalSet), g)
	return mi.appendCheckIfSpent(b)
}

// appendCheckIfSpent appends: if budget < 0 { budget = meterBudget; check() }.
func (mi *moduleInfo) appendCheckIfSpent(b []byte) []byte {
	g := uint64(mi.budgetGlobal())
	b = appendULEB(append(b, mGlobalGet), g)
	b = append(b, mI32Const, 0, mI32LtS, mIf, mEmptyBlock)
	b = appendSLEB(append(b, mI32Const), meterBudget)
	b = appendULEB(append(b, mGlobalSet), g)
	b = appendULEB(append(b, mCall), uint64(mi.checkFunc()))
	return append(b, mEnd)
}

// appendBulkCharge appends, with the length n of a bulk memory operation on top of the
// stack: scratch = n; budget -= n >> bulkShift; check if spent; push scratch back.
func (mi *moduleInfo) appendBulkCharge(b []byte) []byte {
	g, s := uint64(mi.budgetGlobal()), uint64(mi.scratchGlobal())
	b = appendULEB(append(b, mGlobalSet), s)
	b = appendULEB(append(b, mGlobalGet), g)
	b = appendULEB(append(b, mGlobalGet), s)
	b = append(b, mI32Const, bulkShift, mI32ShrU, mI32Sub)
	b = appendULEB(append(b, mGlobalSet), g)
	b = mi.appendCheckIfSpent(b)
	return appendULEB(append(b, mGlobalGet), s)
}

package wasm

import (
	"encoding/binary"
	"math"
)

// This file is a tiny WebAssembly binary encoder for the hand-written adversarial guests
// of the tests: each guest is a few instructions, spelled out below with the opcodes of the
// WebAssembly 1.0 specification (section 5, "Binary Format"), so the tests need neither a
// toolchain nor committed binaries.

// Value types and opcodes used by the guests.
const (
	tI32 = 0x7f
	tI64 = 0x7e
	tF64 = 0x7c

	opUnreachable = 0x00
	opBlock       = 0x02
	opLoop        = 0x03
	opBr          = 0x0c
	opBrIf        = 0x0d
	opEnd         = 0x0b
	opDrop        = 0x1a
	opLocalGet    = 0x20
	opLocalSet    = 0x21
	opGlobalGet   = 0x23
	opGlobalSet   = 0x24
	opI32Store8   = 0x3a
	opF64Store    = 0x39
	opMemoryGrow  = 0x40
	opI32Const    = 0x41
	opI64Const    = 0x42
	opF64Const    = 0x44
	opI32Eqz      = 0x45
	opI32Eq       = 0x46
	opI32LtS      = 0x48
	opI32GeU      = 0x4f
	opI32Add      = 0x6a
	opI32Sub      = 0x6b
	opI32Mul      = 0x6c
	opI32And      = 0x71
	opI64Or       = 0x84
	opI64Shl      = 0x86
	opI64ExtendU  = 0xad
	blockVoid     = 0x40
)

// uleb encodes an unsigned LEB128 integer.
func uleb(v uint64) []byte {
	var out []byte
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			out = append(out, b|0x80)
			continue
		}
		return append(out, b)
	}
}

// sleb encodes a signed LEB128 integer.
func sleb(v int64) []byte {
	var out []byte
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && b&0x40 == 0) || (v == -1 && b&0x40 != 0) {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}

// Instruction helpers returning encoded bytes.
func i32c(v int32) []byte   { return append([]byte{opI32Const}, sleb(int64(v))...) }
func i64c(v int64) []byte   { return append([]byte{opI64Const}, sleb(v)...) }
func local(i uint32) []byte { return append([]byte{opLocalGet}, uleb(uint64(i))...) }
func f64c(v float64) []byte {
	b := make([]byte, 9)
	b[0] = opF64Const
	binary.LittleEndian.PutUint64(b[1:], math.Float64bits(v))
	return b
}

// f64store stores the f64 on the stack at the address below it plus offset.
func f64store(offset uint32) []byte {
	return append([]byte{opF64Store, 3}, uleb(uint64(offset))...)
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// wfunc is one function of a hand-written module.
type wfunc struct {
	export          string
	params, results []byte
	locals          []byte // one value type per local
	body            []byte // instructions without the final end
}

// wimport is an imported function.
type wimport struct {
	module, name    string
	params, results []byte
}

// wdata is an active data segment at a constant offset of memory 0.
type wdata struct {
	offset uint32
	bytes  []byte
}

// wmod is a hand-written module: imports, functions, one memory exported as "memory" (when
// memPages > 0), one mutable i32 global (the bump allocator's pointer) and data.
type wmod struct {
	imports  []wimport
	funcs    []wfunc
	memPages uint32
	// noMemoryExport keeps the memory unexported.
	noMemoryExport bool
	global         int32
	data           []wdata
}

func section(id byte, payload []byte) []byte {
	return cat([]byte{id}, uleb(uint64(len(payload))), payload)
}

func vec(items [][]byte) []byte {
	return cat(uleb(uint64(len(items))), cat(items...))
}

func name(s string) []byte { return cat(uleb(uint64(len(s))), []byte(s)) }

func functype(params, results []byte) []byte {
	return cat([]byte{0x60}, uleb(uint64(len(params))), params, uleb(uint64(len(results))), results)
}

// encode renders the module as a binary. Every function and import gets its own type.
func (m wmod) encode() []byte {
	var types, imports, funcs, exports, codes, datas [][]byte
	for i, im := range m.imports {
		types = append(types, functype(im.params, im.results))
		imports = append(imports, cat(name(im.module), name(im.name), []byte{0x00}, uleb(uint64(i))))
	}
	nimp := len(m.imports)
	for i, f := range m.funcs {
		types = append(types, functype(f.params, f.results))
		funcs = append(funcs, uleb(uint64(nimp+i)))
		if f.export != "" {
			exports = append(exports, cat(name(f.export), []byte{0x00}, uleb(uint64(nimp+i))))
		}
		var locals [][]byte
		for _, t := range f.locals {
			locals = append(locals, []byte{1, t})
		}
		body := cat(vec(locals), f.body, []byte{opEnd})
		codes = append(codes, cat(uleb(uint64(len(body))), body))
	}
	out := []byte("\x00asm\x01\x00\x00\x00")
	out = append(out, section(1, vec(types))...)
	if len(imports) > 0 {
		out = append(out, section(2, vec(imports))...)
	}
	out = append(out, section(3, vec(funcs))...)
	if m.memPages > 0 {
		out = append(out, section(5, vec([][]byte{cat([]byte{0x00}, uleb(uint64(m.memPages)))}))...)
		if !m.noMemoryExport {
			exports = append(exports, cat(name("memory"), []byte{0x02, 0x00}))
		}
	}
	// One mutable i32 global initialised to m.global.
	out = append(out, section(6, vec([][]byte{cat([]byte{tI32, 0x01}, i32c(m.global), []byte{opEnd})}))...)
	out = append(out, section(7, vec(exports))...)
	out = append(out, section(10, vec(codes))...)
	for _, d := range m.data {
		datas = append(datas, cat([]byte{0x00}, i32c(int32(d.offset)), []byte{opEnd}, uleb(uint64(len(d.bytes))), d.bytes))
	}
	if len(datas) > 0 {
		out = append(out, section(11, vec(datas))...)
	}
	return out
}

// Building blocks of a well-behaved guest.

// fnVersion returns v.
func fnVersion(v int32) wfunc {
	return wfunc{export: ExportVersion, results: []byte{tI32}, body: i32c(v)}
}

// fnAlloc is a bump allocator over global 0: it returns the global and advances it by the
// size rounded up to 8.
func fnAlloc() wfunc {
	return wfunc{export: ExportAlloc, params: []byte{tI32}, results: []byte{tI32}, locals: []byte{tI32},
		body: cat(
			[]byte{opGlobalGet, 0, opLocalSet, 1},
			[]byte{opGlobalGet, 0}, local(0), []byte{opI32Add}, i32c(7), []byte{opI32Add}, i32c(-8), []byte{opI32And},
			[]byte{opGlobalSet, 0},
			local(1),
		)}
}

// fnInit returns status.
func fnInit(status int32) wfunc {
	return wfunc{export: ExportInit, params: []byte{tI32, tI32}, results: []byte{tI32}, body: i32c(status)}
}

// actParams are act's parameter types: obs, valid, n, action, m.
var actParams = []byte{tI32, tI32, tI32, tI32, tI32}

// fnAct is act with the given body (locals 0..4 are obs, valid, n, action, m).
func fnAct(body ...[]byte) wfunc {
	return wfunc{export: ExportAct, params: actParams, results: []byte{tI32}, body: cat(body...)}
}

// actConst writes v into action[0] and returns 1.
func actConst(v float64) wfunc {
	return fnAct(local(3), f64c(v), f64store(0), i32c(1))
}

// baseModule is a well-behaved guest whose act writes 1.0 into action[0] and returns 1.
// Tests replace functions to make it misbehave.
func baseModule() wmod {
	return wmod{
		memPages: 1,
		global:   1024,
		funcs:    []wfunc{fnVersion(ABIVersion), fnAlloc(), fnInit(StatusOK), actConst(1)},
	}
}

// with returns a copy of m with the function exporting f.export replaced by f (or added).
func (m wmod) with(f wfunc) wmod {
	out := m
	out.funcs = append([]wfunc(nil), m.funcs...)
	for i, g := range out.funcs {
		if g.export == f.export {
			out.funcs[i] = f
			return out
		}
	}
	out.funcs = append(out.funcs, f)
	return out
}

// without returns a copy of m without the function exporting name.
func (m wmod) without(export string) wmod {
	out := m
	out.funcs = nil
	for _, g := range m.funcs {
		if g.export != export {
			out.funcs = append(out.funcs, g)
		}
	}
	return out
}

package wasm

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeAction drives the host's decoding of act's output with arbitrary action bytes,
// arbitrary return values and a possibly clobbered guard, against an oracle: the output is
// accepted exactly when act returned m, the guard is intact and every value is finite,
// and then the values are the little-endian float64s of the buffer.
func FuzzDecodeAction(f *testing.F) {
	f.Add([]byte{}, uint8(1), int32(1), uint8(0))
	f.Add(make([]byte, 8), uint8(1), int32(1), uint8(0))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0xf8, 0x7f}, uint8(1), int32(1), uint8(0)) // NaN
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f}, uint8(1), int32(1), uint8(9)) // 1.0, clobbered guard
	f.Add([]byte{1, 2, 3}, uint8(3), int32(-1), uint8(0))
	f.Add([]byte{}, uint8(2), int32(3), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, mRaw uint8, ret int32, clobber uint8) {
		m := int(mRaw % 9)
		out := make([]byte, 8*m+guardBytes)
		copy(out[:8*m], data)
		for k := 0; k < guardBytes; k += 8 {
			binary.LittleEndian.PutUint64(out[8*m+k:], guardWord)
		}
		guardOK := true
		if clobber%2 == 1 {
			pos := 8*m + int(clobber/2)%guardBytes
			out[pos] ^= 0x5a
			guardOK = false
		}
		want := make([]float64, m)
		finiteAll := true
		for j := range want {
			want[j] = math.Float64frombits(binary.LittleEndian.Uint64(out[8*j:]))
			if math.IsNaN(want[j]) || math.IsInf(want[j], 0) {
				finiteAll = false
			}
		}
		vals, err := decodeAction(out, m, ret)
		accept := ret >= 0 && int(ret) == m && guardOK && finiteAll
		if accept != (err == nil) {
			t.Fatalf("m=%d ret=%d guard=%v finite=%v: err=%v", m, ret, guardOK, finiteAll, err)
		}
		if err == nil {
			if !sameBits(vals, want) {
				t.Fatalf("values %v, want %v", vals, want)
			}
			return
		}
		var ge *GuestError
		switch {
		case ret < 0:
			if !errors.As(err, &ge) || ge.Status != ret {
				t.Fatalf("negative ret %d: %v, want a GuestError with that status", ret, err)
			}
		case !guardOK || int(ret) != m:
			if !errors.Is(err, ErrOutputLength) {
				t.Fatalf("bad length: %v, want ErrOutputLength", err)
			}
		default:
			if !errors.Is(err, ErrNonFinite) {
				t.Fatalf("non-finite: %v, want ErrNonFinite", err)
			}
		}
	})
}

// FuzzDecodeErrorMessage drives the error channel's decoding with arbitrary memory and
// pointers: it never panics, rejects out-of-range pointers, and always yields one printable
// line of bounded size; a plain printable ASCII message comes back unchanged.
func FuzzDecodeErrorMessage(f *testing.F) {
	f.Add([]byte("policy refused the spec"), uint32(0), uint32(23))
	f.Add(garbage, uint32(0), uint32(len(garbage)))
	f.Add([]byte("abc"), uint32(2), uint32(5))
	f.Add([]byte{}, uint32(0xffffffff), uint32(0xffffffff))
	f.Fuzz(func(t *testing.T, mem []byte, ptr, n uint32) {
		msg, err := decodeErrorMessage(mem, uint64(n)<<32|uint64(ptr))
		if n > 0 && uint64(ptr)+uint64(n) > uint64(len(mem)) {
			if err == nil {
				t.Fatalf("ptr %d len %d in %d bytes: no error", ptr, n, len(mem))
			}
			return
		}
		if err != nil {
			t.Fatalf("in-range message: %v", err)
		}
		if !utf8.ValidString(msg) {
			t.Fatalf("invalid UTF-8: %q", msg)
		}
		checkPrintable(t, msg)
		// Every input byte becomes at most 6 output bytes (\u202e), plus the marker.
		if len(msg) > 6*maxErrorBytes+32 {
			t.Fatalf("message of %d bytes", len(msg))
		}
		if n > 0 && n <= maxErrorBytes {
			in := string(mem[ptr : ptr+n])
			plain := strings.TrimSpace(in) == in
			for _, c := range []byte(in) {
				if c < 0x20 || c >= 0x7f {
					plain = false
				}
			}
			if plain && msg != in {
				t.Fatalf("plain message %q came back as %q", in, msg)
			}
		}
	})
}

// Bulk-memory and saturating-conversion opcodes (prefix 0xfc) used by the mirror guest.
var (
	opMemoryCopy   = []byte{0xfc, 0x0a, 0x00, 0x00}
	opTruncSatF64S = []byte{0xfc, 0x02}
)

// mirrorModule's act copies obs[1:] into the action buffer (as many bytes as obs[1:] has,
// whatever the action's size) and returns obs[0] converted to i32: the fuzz test chooses
// the guest's output and return value through the observation.
func mirrorModule() wmod {
	m := baseModule().with(fnAct(
		local(3), local(0), i32c(8), []byte{opI32Add},
		local(2), i32c(1), []byte{opI32Sub}, i32c(8), []byte{opI32Mul},
		opMemoryCopy,
		local(0), []byte{opF64Load, 3, 0}, opTruncSatF64S,
	))
	m.global = 4096
	return m
}

// FuzzActOutput drives the whole host path — buffers written into guest memory, act, the
// guard, the length and finiteness checks — with guest outputs chosen by the fuzzer. The
// action space has 2 dimensions; the guest writes len(values) of them (past the buffer
// when more than 2) and returns ret. The decision succeeds exactly when ret = 2, the guest
// wrote nothing past the buffer other than the guard's own pattern, both values were
// written and are finite.
func FuzzActOutput(f *testing.F) {
	f.Add(2.0, []byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0x40})
	f.Add(2.0, []byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f})
	f.Add(3.0, make([]byte, 24))
	f.Add(-1.0, make([]byte, 16))
	f.Add(math.NaN(), make([]byte, 16))
	p := newPolicy(f, testConfig(writeModule(f, mirrorModule().encode())), boxSpecs(2), 1)
	f.Fuzz(func(t *testing.T, ret float64, data []byte) {
		k := min(len(data)/8, 15)
		vals := make([]float64, 1+k)
		vals[0] = ret
		for i := 0; i < k; i++ {
			vals[1+i] = math.Float64frombits(binary.LittleEndian.Uint64(data[8*i:]))
		}
		spec := boxSpecs(2, make([]string, 1+k)...)
		if err := p.Init(spec); err != nil {
			t.Fatal(err)
		}
		a, err := p.Act(context.Background(), obsOf(vals...))
		// Oracle: i32.trunc_sat of ret; the buffer after the copy.
		r := int64(0)
		switch {
		case math.IsNaN(ret):
		case ret >= math.MaxInt32:
			r = math.MaxInt32
		case ret <= math.MinInt32:
			r = math.MinInt32
		default:
			r = int64(ret)
		}
		buf := make([]uint64, 2+guardBytes/8)
		for j := range buf {
			buf[j] = canonicalNaN
			if j >= 2 {
				buf[j] = guardWord
			}
		}
		for i := 0; i < k && i < len(buf); i++ {
			buf[i] = math.Float64bits(vals[1+i])
		}
		guardOK := true
		for j := 2; j < len(buf); j++ {
			guardOK = guardOK && buf[j] == guardWord
		}
		fin := func(b uint64) bool { v := math.Float64frombits(b); return !math.IsNaN(v) && !math.IsInf(v, 0) }
		accept := r == 2 && guardOK && fin(buf[0]) && fin(buf[1])
		if accept != (err == nil) {
			t.Fatalf("ret=%v (→%d) %d values: accept=%v err=%v", ret, r, k, accept, err)
		}
		if err == nil && (math.Float64bits(a.Values[0]) != buf[0] || math.Float64bits(a.Values[1]) != buf[1]) {
			t.Fatalf("action %v, want the written values", a.Values)
		}
		if err != nil {
			checkPrintable(t, err.Error())
		}
	})
}

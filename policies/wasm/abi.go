package wasm

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tetratelabs/wazero/api"

	"github.com/scalelab/scalelab/framework"
)

// ABIVersion is the policy ABI version this host implements (docs/policy-abi.md).
const ABIVersion = 1

// Export names of ABI v1.
const (
	ExportVersion    = "scalelab_abi_version"
	ExportAlloc      = "scalelab_alloc"
	ExportInit       = "scalelab_init"
	ExportAct        = "scalelab_act"
	ExportError      = "scalelab_error"
	ExportObserve    = "scalelab_observe"
	ExportReset      = "scalelab_reset"
	ExportMemory     = "memory"
	ExportInitialize = "_initialize"
	ExportStart      = "_start"
	// WASIModule is the only import module the host provides.
	WASIModule = "wasi_snapshot_preview1"
)

// Status codes a guest returns (a non-negative act result is the number of values written).
const (
	StatusOK             int32 = 0
	StatusError          int32 = -1
	StatusInvalid        int32 = -2
	StatusNotInitialized int32 = -3
	StatusUnsupported    int32 = -4
)

// statusName names a status code for error messages.
func statusName(s int32) string {
	switch s {
	case StatusError:
		return "error"
	case StatusInvalid:
		return "invalid argument"
	case StatusNotInitialized:
		return "not initialized"
	case StatusUnsupported:
		return "unsupported"
	default:
		return "unknown status"
	}
}

// signature is an export's wasm function type.
type signature struct {
	params, results []api.ValueType
}

func (s signature) String() string {
	names := func(ts []api.ValueType) string {
		out := make([]string, len(ts))
		for i, t := range ts {
			out[i] = api.ValueTypeName(t)
		}
		return strings.Join(out, ", ")
	}
	return fmt.Sprintf("(%s) -> (%s)", names(s.params), names(s.results))
}

func (s signature) matches(d api.FunctionDefinition) bool {
	eq := func(a, b []api.ValueType) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	}
	return eq(s.params, d.ParamTypes()) && eq(s.results, d.ResultTypes())
}

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
	f64 = api.ValueTypeF64
)

// exportSpec is one function export of the ABI.
type exportSpec struct {
	name     string
	sig      signature
	required bool
}

// abiExports lists the function exports of ABI v1 in the order they are documented.
var abiExports = []exportSpec{
	{ExportVersion, signature{nil, []api.ValueType{i32}}, true},
	{ExportAlloc, signature{[]api.ValueType{i32}, []api.ValueType{i32}}, true},
	{ExportInit, signature{[]api.ValueType{i32, i32}, []api.ValueType{i32}}, true},
	{ExportAct, signature{[]api.ValueType{i32, i32, i32, i32, i32}, []api.ValueType{i32}}, true},
	{ExportError, signature{nil, []api.ValueType{i64}}, false},
	{ExportObserve, signature{[]api.ValueType{f64, i32}, []api.ValueType{i32}}, false},
	{ExportReset, signature{nil, []api.ValueType{i32}}, false},
	{ExportInitialize, signature{nil, nil}, false},
}

// specDoc is the JSON document init receives (docs/policy-abi.md, "The spec").
type specDoc struct {
	ABIVersion      int                     `json:"abi_version"`
	Features        []framework.FeatureSpec `json:"features"`
	Action          actionDoc               `json:"action"`
	ActionDesign    string                  `json:"action_design"`
	IntervalSeconds float64                 `json:"interval_seconds"`
	Seed            uint64                  `json:"seed"`
	Params          map[string]any          `json:"params"`
}

// actionDoc is the action space in the spec, with its dimension spelled out.
type actionDoc struct {
	Kind  framework.SpaceKind `json:"kind"`
	Dim   int                 `json:"dim"`
	N     int                 `json:"n,omitempty"`
	Nvec  []int               `json:"nvec,omitempty"`
	Low   []float64           `json:"low,omitempty"`
	High  []float64           `json:"high,omitempty"`
	Names []string            `json:"names,omitempty"`
}

// encodeSpec renders the specs as the ABI's spec document.
func encodeSpec(s framework.Specs, seed uint64, params map[string]any) ([]byte, error) {
	if params == nil {
		params = map[string]any{}
	}
	feats := s.Features
	if feats == nil {
		feats = []framework.FeatureSpec{}
	}
	for _, b := range append(append([]float64(nil), s.Action.Low...), s.Action.High...) {
		if math.IsNaN(b) || math.IsInf(b, 0) {
			return nil, fmt.Errorf("action space bound %v is not finite: JSON cannot carry it", b)
		}
	}
	doc := specDoc{
		ABIVersion: ABIVersion,
		Features:   feats,
		Action: actionDoc{
			Kind: s.Action.Kind, Dim: s.Action.Dim(), N: s.Action.N, Nvec: s.Action.Nvec,
			Low: s.Action.Low, High: s.Action.High, Names: s.Action.Names,
		},
		ActionDesign:    s.ActionDesign,
		IntervalSeconds: s.Interval.Seconds(),
		Seed:            seed,
		Params:          params,
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode spec (params must be plain values, maps and lists): %w", err)
	}
	return b, nil
}

// canonicalNaN is the bit pattern written for a missing observation value.
const canonicalNaN = 0x7FF8000000000000

// guardBytes is the size of the canary region after the action buffer; guardWord is its
// repeated 64-bit pattern (a signalling-NaN payload no float computation produces).
const (
	guardBytes = 64
	guardWord  = 0x7FF4_5CA1_E1AB_CAFE
)

// layout places the act buffers inside the one block the host allocates per instance:
//
//	[obs: 8n][action: 8m][guard: 64][valid: n]
//
// Offsets are relative to the block; the guest only ever sees the absolute pointers.
type layout struct {
	n, m                              int
	obs, action, guard, valid, length uint32
}

func newLayout(n, m int) layout {
	l := layout{n: n, m: m}
	l.obs = 0
	l.action = uint32(8 * n)
	l.guard = l.action + uint32(8*m)
	l.valid = l.guard + guardBytes
	l.length = l.valid + uint32(n)
	return l
}

// writeInputs fills the block before act: observation values (canonical NaN where
// invalid), NaN in every action slot (so a value the guest does not write is reported as
// non-finite), the guard canary and the validity bytes (exactly 0 or 1).
func (l layout) writeInputs(block []byte, obs framework.Observation) {
	for i := 0; i < l.n; i++ {
		bits := uint64(canonicalNaN)
		if obs.Valid[i] {
			bits = math.Float64bits(obs.Values[i])
		}
		binary.LittleEndian.PutUint64(block[l.obs+uint32(8*i):], bits)
		if obs.Valid[i] {
			block[l.valid+uint32(i)] = 1
		} else {
			block[l.valid+uint32(i)] = 0
		}
	}
	for j := 0; j < l.m; j++ {
		binary.LittleEndian.PutUint64(block[l.action+uint32(8*j):], canonicalNaN)
	}
	for k := uint32(0); k < guardBytes; k += 8 {
		binary.LittleEndian.PutUint64(block[l.guard+k:], guardWord)
	}
}

// decodeAction checks act's result and reads the action. out is the guest's action buffer
// followed by the guard region (8m + 64 bytes); ret is act's return value and m the action
// dimension. It returns a *GuestError for a negative status (without its message, which
// the caller reads from the error channel) and an error wrapping ErrOutputLength or
// ErrNonFinite for a malformed output.
func decodeAction(out []byte, m int, ret int32) ([]float64, error) {
	if ret < 0 {
		return nil, &GuestError{Function: ExportAct, Status: ret}
	}
	if len(out) != 8*m+guardBytes {
		return nil, fmt.Errorf("%w: host buffer of %d bytes for %d action values", ErrOutputLength, len(out), m)
	}
	for k := 0; k < guardBytes; k += 8 {
		if binary.LittleEndian.Uint64(out[8*m+k:]) != guardWord {
			return nil, fmt.Errorf("%w: the guest wrote past the end of the action buffer (%d values, %d bytes; byte %d after it was overwritten; act returned %d)",
				ErrOutputLength, m, 8*m, k, ret)
		}
	}
	if int(ret) != m {
		return nil, fmt.Errorf("%w: act returned %d action values, the action space has %d", ErrOutputLength, ret, m)
	}
	vals := make([]float64, m)
	for j := range vals {
		v := math.Float64frombits(binary.LittleEndian.Uint64(out[8*j:]))
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%w: action[%d] = %v (a value left unwritten reads as NaN)", ErrNonFinite, j, v)
		}
		vals[j] = v
	}
	return vals, nil
}

// maxErrorBytes bounds how much of a guest error message the host reads.
const maxErrorBytes = 4096

// decodeErrorMessage reads the message the error channel points at. packed is the value
// of scalelab_error(): (length << 32) | pointer. mem is the guest's whole linear memory.
// The message is cut at maxErrorBytes, invalid UTF-8 becomes U+FFFD and control
// characters other than tab are escaped, so whatever the guest writes yields one printable
// line.
func decodeErrorMessage(mem []byte, packed uint64) (string, error) {
	ptr, n := uint32(packed), uint32(packed>>32)
	if n == 0 {
		return "", nil
	}
	if uint64(ptr)+uint64(n) > uint64(len(mem)) {
		return "", fmt.Errorf("error channel points outside guest memory (pointer %d, length %d, memory %d bytes)", ptr, n, len(mem))
	}
	truncated := false
	if n > maxErrorBytes {
		n, truncated = maxErrorBytes, true
	}
	msg := sanitize(mem[ptr : ptr+n])
	if truncated {
		msg += " …(truncated)"
	}
	return msg, nil
}

// sanitize turns arbitrary bytes into one printable line.
func sanitize(b []byte) string {
	var sb strings.Builder
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		switch {
		case r == utf8.RuneError && size <= 1:
			sb.WriteRune('\uFFFD')
		case r == '\t':
			sb.WriteByte(' ')
		case r == '\n' || r == '\r':
			sb.WriteString(" | ")
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			fmt.Fprintf(&sb, "\\x%02x", r)
		case unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp, unicode.Co):
			// Format characters (bidirectional overrides), line separators and private-use
			// runes could disguise the message in logs.
			fmt.Fprintf(&sb, "\\u%04x", r)
		default:
			sb.WriteRune(r)
		}
	}
	return strings.TrimSpace(sb.String())
}

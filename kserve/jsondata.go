package kserve

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// appendJSONData appends the tensor's data as a flat JSON array (row-major, as the protocol
// allows) to dst. FP32 values are written in their shortest round-tripping form, so
// decoding gives back the same bits.
func appendJSONData(dst []byte, t Tensor) ([]byte, error) {
	size := ElementSize(t.Datatype)
	switch t.Datatype {
	case FP16, BF16:
		return nil, fmt.Errorf("tensor %q: %s data has no JSON form; use the binary encoding", t.Name, t.Datatype)
	case BYTES:
		elems, err := BytesElements(t.Data)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		dst = append(dst, '[')
		for i, e := range elems {
			if !utf8.Valid(e) {
				return nil, fmt.Errorf("tensor %q: BYTES element %d is not valid UTF-8, so it cannot be sent as JSON; use the binary encoding", t.Name, i)
			}
			if i > 0 {
				dst = append(dst, ',')
			}
			s, _ := json.Marshal(string(e))
			dst = append(dst, s...)
		}
		return append(dst, ']'), nil
	}
	if size <= 0 || len(t.Data)%size != 0 {
		return nil, fmt.Errorf("tensor %q: %d bytes of %s data", t.Name, len(t.Data), t.Datatype)
	}
	dst = append(dst, '[')
	le := binary.LittleEndian
	for off := 0; off < len(t.Data); off += size {
		if off > 0 {
			dst = append(dst, ',')
		}
		b := t.Data[off:]
		switch t.Datatype {
		case BOOL:
			dst = strconv.AppendBool(dst, b[0] != 0)
		case UINT8:
			dst = strconv.AppendUint(dst, uint64(b[0]), 10)
		case UINT16:
			dst = strconv.AppendUint(dst, uint64(le.Uint16(b)), 10)
		case UINT32:
			dst = strconv.AppendUint(dst, uint64(le.Uint32(b)), 10)
		case UINT64:
			dst = strconv.AppendUint(dst, le.Uint64(b), 10)
		case INT8:
			dst = strconv.AppendInt(dst, int64(int8(b[0])), 10)
		case INT16:
			dst = strconv.AppendInt(dst, int64(int16(le.Uint16(b))), 10)
		case INT32:
			dst = strconv.AppendInt(dst, int64(int32(le.Uint32(b))), 10)
		case INT64:
			dst = strconv.AppendInt(dst, int64(le.Uint64(b)), 10)
		case FP32:
			f := math.Float32frombits(le.Uint32(b))
			if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
				return nil, fmt.Errorf("tensor %q: FP32 element %d is %v, which JSON cannot carry", t.Name, off/size, f)
			}
			dst = strconv.AppendFloat(dst, float64(f), 'g', -1, 32)
		case FP64:
			f := math.Float64frombits(le.Uint64(b))
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("tensor %q: FP64 element %d is %v, which JSON cannot carry", t.Name, off/size, f)
			}
			dst = strconv.AppendFloat(dst, f, 'g', -1, 64)
		}
	}
	return append(dst, ']'), nil
}

// decodeJSONData converts a JSON data array (flat or nested, row-major) of the given
// datatype into the binary layout, checking every element's type and range. It scans the
// array without building a tree, since an image tensor has ~150,000 elements.
func decodeJSONData(name, datatype string, raw json.RawMessage) ([]byte, error) {
	if datatype == BYTES {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("input %q: data: %w", name, err)
		}
		var out []byte
		var walk func(v any) error
		walk = func(v any) error {
			switch x := v.(type) {
			case []any:
				for _, e := range x {
					if err := walk(e); err != nil {
						return err
					}
				}
			case string:
				out = AppendBytesElement(out, []byte(x))
			default:
				return fmt.Errorf("input %q: BYTES data must hold strings, got %T", name, v)
			}
			return nil
		}
		if _, ok := v.([]any); !ok {
			return nil, fmt.Errorf("input %q: data must be a JSON array", name)
		}
		if err := walk(v); err != nil {
			return nil, err
		}
		return out, nil
	}
	size := ElementSize(datatype)
	switch {
	case size < 0:
		return nil, fmt.Errorf("input %q: unknown datatype %q", name, datatype)
	case datatype == FP16 || datatype == BF16:
		return nil, fmt.Errorf("input %q: %s data must use the binary encoding", name, datatype)
	}
	out := make([]byte, 0, len(raw)/2)
	depth, i, n := 0, 0, 0
	expectValue := false
	for i < len(raw) {
		c := raw[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '[':
			depth++
			expectValue = true
			i++
		case c == ']':
			if depth == 0 {
				return nil, fmt.Errorf("input %q: data: unbalanced ']' at byte %d", name, i)
			}
			depth--
			expectValue = false
			i++
		case c == ',':
			if depth == 0 {
				return nil, fmt.Errorf("input %q: data: ',' outside an array at byte %d", name, i)
			}
			expectValue = true
			i++
		default:
			if depth == 0 {
				return nil, fmt.Errorf("input %q: data must be a JSON array", name)
			}
			if !expectValue {
				return nil, fmt.Errorf("input %q: data: missing ',' before byte %d", name, i)
			}
			j := i
			for j < len(raw) && raw[j] != ',' && raw[j] != ']' && raw[j] != ' ' && raw[j] != '\n' && raw[j] != '\t' && raw[j] != '\r' {
				j++
			}
			var err error
			out, err = appendElement(out, datatype, raw[i:j])
			if err != nil {
				return nil, fmt.Errorf("input %q: element %d: %w", name, n, err)
			}
			n++
			expectValue = false
			i = j
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("input %q: data: unterminated array", name)
	}
	return out, nil
}

// appendElement parses one JSON scalar token as datatype and appends its little-endian
// bytes.
func appendElement(out []byte, datatype string, tok []byte) ([]byte, error) {
	s := string(tok)
	le := binary.LittleEndian
	switch datatype {
	case BOOL:
		switch s {
		case "true":
			return append(out, 1), nil
		case "false":
			return append(out, 0), nil
		}
		return nil, fmt.Errorf("BOOL element %q is not true or false", s)
	case UINT8, UINT16, UINT32, UINT64:
		bits := ElementSize(datatype) * 8
		v, err := strconv.ParseUint(s, 10, bits)
		if err != nil {
			return nil, fmt.Errorf("%s element %q: %w", datatype, s, err)
		}
		switch bits {
		case 8:
			return append(out, byte(v)), nil
		case 16:
			return le.AppendUint16(out, uint16(v)), nil
		case 32:
			return le.AppendUint32(out, uint32(v)), nil
		}
		return le.AppendUint64(out, v), nil
	case INT8, INT16, INT32, INT64:
		bits := ElementSize(datatype) * 8
		v, err := strconv.ParseInt(s, 10, bits)
		if err != nil {
			return nil, fmt.Errorf("%s element %q: %w", datatype, s, err)
		}
		switch bits {
		case 8:
			return append(out, byte(int8(v))), nil
		case 16:
			return le.AppendUint16(out, uint16(int16(v))), nil
		case 32:
			return le.AppendUint32(out, uint32(int32(v))), nil
		}
		return le.AppendUint64(out, uint64(v)), nil
	case FP32:
		v, err := strconv.ParseFloat(s, 32)
		if err != nil {
			return nil, fmt.Errorf("FP32 element %q: %w", s, err)
		}
		return le.AppendUint32(out, math.Float32bits(float32(v))), nil
	case FP64:
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("FP64 element %q: %w", s, err)
		}
		return le.AppendUint64(out, math.Float64bits(v)), nil
	}
	return nil, fmt.Errorf("unsupported datatype %q", datatype)
}

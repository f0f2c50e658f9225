package kserve

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Datatypes of the Open Inference Protocol.
const (
	BOOL   = "BOOL"
	UINT8  = "UINT8"
	UINT16 = "UINT16"
	UINT32 = "UINT32"
	UINT64 = "UINT64"
	INT8   = "INT8"
	INT16  = "INT16"
	INT32  = "INT32"
	INT64  = "INT64"
	FP16   = "FP16"
	BF16   = "BF16"
	FP32   = "FP32"
	FP64   = "FP64"
	BYTES  = "BYTES"
)

// ElementSize returns the size in bytes of one element of a fixed-size datatype, 0 for
// BYTES (variable length) and -1 for an unknown datatype.
func ElementSize(datatype string) int {
	switch datatype {
	case BOOL, UINT8, INT8:
		return 1
	case UINT16, INT16, FP16, BF16:
		return 2
	case UINT32, INT32, FP32:
		return 4
	case UINT64, INT64, FP64:
		return 8
	case BYTES:
		return 0
	}
	return -1
}

// Tensor is one named input or output. Data holds the elements in the binary-tensor
// extension's layout: row-major little-endian values for fixed-size datatypes; for BYTES,
// each element as a 4-byte little-endian length followed by that many bytes.
type Tensor struct {
	Name     string
	Datatype string
	Shape    []int64
	Data     []byte
	// Parameters are the tensor's parameters other than binary_data_size (which the
	// encoding manages).
	Parameters map[string]any
}

// Elements returns the product of the shape's dimensions. Every dimension must be ≥ 0 (a
// request or response carries concrete shapes; -1 appears only in metadata).
func (t Tensor) Elements() (int64, error) {
	n := int64(1)
	for i, d := range t.Shape {
		if d < 0 {
			return 0, fmt.Errorf("tensor %q: shape[%d] = %d: dimensions must be ≥ 0", t.Name, i, d)
		}
		if d != 0 && n > math.MaxInt64/d {
			return 0, fmt.Errorf("tensor %q: shape %v has too many elements", t.Name, t.Shape)
		}
		n *= d
	}
	return n, nil
}

// Validate checks that the tensor is well formed: a name, a known datatype, a concrete
// shape, and data whose size (or, for BYTES, whose element framing) matches the shape.
func (t Tensor) Validate() error {
	if t.Name == "" {
		return errors.New("tensor: name is required")
	}
	size := ElementSize(t.Datatype)
	if size < 0 {
		return fmt.Errorf("tensor %q: unknown datatype %q", t.Name, t.Datatype)
	}
	n, err := t.Elements()
	if err != nil {
		return err
	}
	if size > 0 {
		if want := n * int64(size); int64(len(t.Data)) != want {
			return fmt.Errorf("tensor %q: %s shape %v needs %d bytes of data, got %d", t.Name, t.Datatype, t.Shape, want, len(t.Data))
		}
		if t.Datatype == BOOL {
			for i, b := range t.Data {
				if b > 1 {
					return fmt.Errorf("tensor %q: BOOL element %d is %d, want 0 or 1", t.Name, i, b)
				}
			}
		}
		return nil
	}
	got, err := countBytesElements(t.Data)
	if err != nil {
		return fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	if got != n {
		return fmt.Errorf("tensor %q: BYTES shape %v needs %d elements, got %d", t.Name, t.Shape, n, got)
	}
	return nil
}

// countBytesElements counts the length-prefixed elements of BYTES data, checking the
// framing.
func countBytesElements(data []byte) (int64, error) {
	var n int64
	for off := 0; off < len(data); n++ {
		if len(data)-off < 4 {
			return 0, fmt.Errorf("BYTES element %d: truncated length prefix", n)
		}
		l := int(binary.LittleEndian.Uint32(data[off:]))
		off += 4
		if l > len(data)-off {
			return 0, fmt.Errorf("BYTES element %d: length %d exceeds the remaining %d bytes", n, l, len(data)-off)
		}
		off += l
	}
	return n, nil
}

// BytesElements splits BYTES data into its elements (sub-slices of data).
func BytesElements(data []byte) ([][]byte, error) {
	if _, err := countBytesElements(data); err != nil {
		return nil, err
	}
	var out [][]byte
	for off := 0; off < len(data); {
		l := int(binary.LittleEndian.Uint32(data[off:]))
		out = append(out, data[off+4:off+4+l])
		off += 4 + l
	}
	return out, nil
}

// AppendBytesElement appends one BYTES element (length prefix and content) to data.
func AppendBytesElement(data, elem []byte) []byte {
	data = binary.LittleEndian.AppendUint32(data, uint32(len(elem)))
	return append(data, elem...)
}

// FP32Data returns the little-endian bytes of values (the layout of an FP32 tensor).
func FP32Data(values []float32) []byte {
	out := make([]byte, 4*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
	}
	return out
}

// FP32Values decodes FP32 tensor data.
func FP32Values(data []byte) ([]float32, error) {
	if len(data)%4 != 0 {
		return nil, fmt.Errorf("FP32 data of %d bytes is not a multiple of 4", len(data))
	}
	out := make([]float32, len(data)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return out, nil
}

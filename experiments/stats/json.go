package stats

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
)

// The result types hold NaN for undefined values, which encoding/json refuses. Their
// MarshalJSON writes NaN and ±Inf as null, and UnmarshalJSON reads null (or a missing key)
// back as NaN, so results round-trip through JSON files.

// MarshalJSON encodes the summary with NaN as null.
func (s Summary) MarshalJSON() ([]byte, error) { type plain Summary; return marshalNaN(plain(s)) }

// UnmarshalJSON decodes a summary, null meaning NaN.
func (s *Summary) UnmarshalJSON(b []byte) error {
	type plain Summary
	return unmarshalNaN(b, (*plain)(s))
}

// MarshalJSON encodes the result with NaN as null.
func (r TTestResult) MarshalJSON() ([]byte, error) {
	type plain TTestResult
	return marshalNaN(plain(r))
}

// UnmarshalJSON decodes a result, null meaning NaN.
func (r *TTestResult) UnmarshalJSON(b []byte) error {
	type plain TTestResult
	return unmarshalNaN(b, (*plain)(r))
}

// MarshalJSON encodes the result with NaN as null.
func (r RankTestResult) MarshalJSON() ([]byte, error) {
	type plain RankTestResult
	return marshalNaN(plain(r))
}

// UnmarshalJSON decodes a result, null meaning NaN.
func (r *RankTestResult) UnmarshalJSON(b []byte) error {
	type plain RankTestResult
	return unmarshalNaN(b, (*plain)(r))
}

// MarshalJSON encodes the comparison with NaN as null.
func (c Comparison) MarshalJSON() ([]byte, error) { type plain Comparison; return marshalNaN(plain(c)) }

// UnmarshalJSON decodes a comparison, null meaning NaN.
func (c *Comparison) UnmarshalJSON(b []byte) error {
	type plain Comparison
	return unmarshalNaN(b, (*plain)(c))
}

// marshalNaN encodes a struct's exported fields under their json names (omitempty honoured
// for strings), float64 NaN and ±Inf as null; other fields use encoding/json.
func marshalNaN(v any) ([]byte, error) {
	rv := reflect.ValueOf(v)
	rt := rv.Type()
	var buf bytes.Buffer
	buf.WriteByte('{')
	first := true
	for i := range rt.NumField() {
		f := rt.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fv := rv.Field(i)
		if strings.Contains(opts, "omitempty") && fv.IsZero() {
			continue
		}
		var val []byte
		if fv.Kind() == reflect.Float64 && (math.IsNaN(fv.Float()) || math.IsInf(fv.Float(), 0)) {
			val = []byte("null")
		} else {
			var err error
			if val, err = json.Marshal(fv.Interface()); err != nil {
				return nil, err
			}
		}
		if !first {
			buf.WriteByte(',')
		}
		first = false
		key, _ := json.Marshal(name)
		buf.Write(key)
		buf.WriteByte(':')
		buf.Write(val)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// unmarshalNaN sets every float64 field of the struct p points to NaN, then decodes b into
// it, so null and missing values read as NaN.
func unmarshalNaN(b []byte, p any) error {
	rv := reflect.ValueOf(p).Elem()
	for i := range rv.NumField() {
		if f := rv.Field(i); f.Kind() == reflect.Float64 && f.CanSet() {
			f.SetFloat(math.NaN())
		}
	}
	return json.Unmarshal(b, p)
}

package config

import (
	"encoding"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	yaml "go.yaml.in/yaml/v3"
)

// overrideString is a scalar given as text by an override (--set or the environment). It
// takes the type of the key it is decoded into: "10" is an integer for an integer key and
// a string for a string key.
type overrideString string

// typeError says a value does not have the type a key needs.
type typeError struct {
	want reflect.Type
	got  any
	note string
}

func (e *typeError) Error() string {
	msg := "expected " + describeType(e.want) + ", got " + describeValue(e.got)
	if e.note != "" {
		msg += " (" + e.note + ")"
	}
	return msg
}

// describeType names a Go type the way a config author thinks of it.
func describeType(t reflect.Type) string {
	if t == durationType {
		return "a duration such as 15s or 1m30s"
	}
	t = deref(t)
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map:
		return "a mapping"
	case reflect.Struct:
		if isLeafStruct(t) {
			return "a string"
		}
		return "a mapping"
	default:
		return t.String()
	}
}

// describeValue shows a decoded YAML value with its kind.
func describeValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case overrideString:
		return strconv.Quote(string(x))
	case string:
		return "string " + strconv.Quote(x)
	case bool:
		return "boolean " + strconv.FormatBool(x)
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprintf("integer %d", x)
	case float32, float64:
		return fmt.Sprintf("number %v", x)
	case time.Time:
		return "timestamp " + x.Format(time.RFC3339)
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	default:
		return fmt.Sprintf("%v (%T)", x, x)
	}
}

// decodeHook converts and type-checks every value before mapstructure assigns it, so that
// type errors are precise and mapstructure's lenient conversions (2.5 into an int, 15 into
// a 15 ns duration) do not happen.
func decodeHook(from, to reflect.Value) (any, error) {
	data := from.Interface()
	tt := to.Type()
	if tt.Kind() != reflect.Pointer && tt.Kind() != reflect.Interface && reflect.PointerTo(tt).Implements(textUnmarshalerType) {
		return unmarshalText(data, from, tt)
	}
	if s, ok := data.(overrideString); ok {
		return convertOverride(string(s), tt)
	}
	if tt == durationType {
		switch x := data.(type) {
		case string:
			d, err := time.ParseDuration(strings.TrimSpace(x))
			if err != nil {
				return nil, &typeError{want: tt, got: data}
			}
			return d, nil
		case time.Duration:
			return x, nil
		}
		if f, ok := number(data); ok && f == 0 {
			return time.Duration(0), nil
		}
		return nil, &typeError{want: tt, got: data, note: "write the unit, e.g. 15s"}
	}
	switch tt.Kind() {
	case reflect.Interface:
		return plainify(data), nil
	case reflect.Pointer:
		return data, nil // mapstructure calls the hook again for the element
	case reflect.String:
		if _, ok := data.(string); !ok {
			note := ""
			if _, isTime := data.(time.Time); isTime {
				note = "quote it"
			}
			return nil, &typeError{want: tt, got: data, note: note}
		}
	case reflect.Bool:
		if _, ok := data.(bool); !ok {
			return nil, &typeError{want: tt, got: data}
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		f, ok := number(data)
		if !ok || f != math.Trunc(f) || math.IsInf(f, 0) {
			return nil, &typeError{want: tt, got: data}
		}
		if f < math.MinInt64 || f >= math.MaxInt64 || reflect.New(tt).Elem().OverflowInt(int64(f)) {
			return nil, &typeError{want: tt, got: data, note: "out of range"}
		}
		if isFloat(data) {
			return int64(f), nil
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		f, ok := number(data)
		if !ok || f != math.Trunc(f) || f < 0 || math.IsInf(f, 0) {
			return nil, &typeError{want: tt, got: data}
		}
		if isFloat(data) {
			if f >= math.MaxUint64 || reflect.New(tt).Elem().OverflowUint(uint64(f)) {
				return nil, &typeError{want: tt, got: data, note: "out of range"}
			}
			return uint64(f), nil
		}
		if u := reflect.ValueOf(data); u.CanUint() && reflect.New(tt).Elem().OverflowUint(u.Uint()) ||
			u.CanInt() && reflect.New(tt).Elem().OverflowUint(uint64(u.Int())) {
			return nil, &typeError{want: tt, got: data, note: "out of range"}
		}
	case reflect.Float32, reflect.Float64:
		if _, ok := number(data); !ok {
			return nil, &typeError{want: tt, got: data}
		}
	case reflect.Slice, reflect.Array:
		if from.Kind() != reflect.Slice && from.Kind() != reflect.Array {
			return nil, &typeError{want: tt, got: data}
		}
	case reflect.Map:
		if from.Kind() != reflect.Map {
			return nil, &typeError{want: tt, got: data}
		}
	case reflect.Struct:
		if isLeafStruct(tt) {
			return data, nil
		}
		if from.Kind() != reflect.Map && from.Kind() != reflect.Struct {
			return nil, &typeError{want: tt, got: data}
		}
	}
	return data, nil
}

// unmarshalText decodes a string into a type that implements encoding.TextUnmarshaler
// (a custom enum, a time.Time), which mapstructure would not do by itself.
func unmarshalText(data any, from reflect.Value, tt reflect.Type) (any, error) {
	var text string
	switch x := data.(type) {
	case string:
		text = x
	case overrideString:
		text = string(x)
	default:
		if from.Type() == tt {
			return data, nil
		}
		return nil, &typeError{want: tt, got: data}
	}
	v := reflect.New(tt)
	if err := v.Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(text)); err != nil {
		return nil, fmt.Errorf("invalid value %q: %v", text, err)
	}
	return v.Elem().Interface(), nil
}

// number returns the value of an integer or float of any Go kind.
func number(v any) (float64, bool) {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() {
		return 0, false
	}
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(rv.Uint()), true
	case reflect.Float32, reflect.Float64:
		return rv.Float(), true
	}
	return 0, false
}

func isFloat(v any) bool {
	k := reflect.ValueOf(v).Kind()
	return k == reflect.Float32 || k == reflect.Float64
}

// convertOverride gives the text of an override the type of the key it sets.
func convertOverride(s string, tt reflect.Type) (any, error) {
	fail := func() (any, error) { return nil, &typeError{want: tt, got: overrideString(s)} }
	t := strings.TrimSpace(s)
	if tt == durationType {
		if t == "0" {
			return time.Duration(0), nil
		}
		d, err := time.ParseDuration(t)
		if err != nil {
			return fail()
		}
		return d, nil
	}
	switch tt.Kind() {
	case reflect.Pointer:
		return overrideString(s), nil
	case reflect.String:
		return s, nil
	case reflect.Bool:
		switch strings.ToLower(t) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return fail()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n, err := strconv.ParseInt(t, 10, 64); err == nil {
			return n, nil
		}
		if f, err := strconv.ParseFloat(t, 64); err == nil && f == math.Trunc(f) && !math.IsInf(f, 0) {
			return int64(f), nil
		}
		return fail()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n, err := strconv.ParseUint(t, 10, 64); err == nil {
			return n, nil
		}
		return fail()
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(t, 64)
		if err != nil {
			return fail()
		}
		return f, nil
	case reflect.Slice, reflect.Array:
		if t == "" {
			return []any{}, nil
		}
		return []any{overrideString(s)}, nil
	case reflect.Interface:
		return resolveScalar(s), nil
	case reflect.Struct:
		if isLeafStruct(tt) {
			return s, nil
		}
	}
	return fail()
}

// resolveScalar types an override scalar as YAML would (int, float, bool, null, string).
func resolveScalar(s string) any {
	var v any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		return s
	}
	switch v.(type) {
	case map[string]any, []any, time.Time:
		return s
	}
	return v
}

// plainify returns v with every override scalar typed as YAML would type it (for values
// that reach code which does not know about override scalars: `any` fields, load
// profiles, the train section).
func plainify(v any) any {
	switch x := v.(type) {
	case overrideString:
		return resolveScalar(string(x))
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = plainify(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plainify(e)
		}
		return out
	}
	return v
}

// decode decodes data into out (a pointer) strictly, reporting every problem under
// prefix. It returns whether decoding succeeded without problems.
func (l *loader) decode(prefix string, data map[string]any, out any) bool {
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		DecodeHook:  decodeHook,
		ErrorUnused: true,
		Squash:      true,
		TagName:     "mapstructure",
		Result:      out,
	})
	if err != nil {
		l.ps.add(prefix, "internal error: %v", err)
		return false
	}
	err = dec.Decode(data)
	if err == nil {
		return true
	}
	for _, e := range decodeErrors(err) {
		var de *mapstructure.DecodeError
		if errors.As(e, &de) {
			l.ps.add(joinKey(prefix, mapstructurePath(de.Name())), "%s", describeDecodeError(de.Unwrap()))
			continue
		}
		l.ps.add(prefix, "%v", e)
	}
	return false
}

// decodeErrors returns the individual errors of a mapstructure Decode error: Decode wraps
// a join of per-key *DecodeErrors in one summary error.
func decodeErrors(err error) []error {
	var out []error
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if de, ok := err.(*mapstructure.DecodeError); ok {
			out = append(out, de)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		if u := errors.Unwrap(err); u != nil {
			walk(u)
			return
		}
		out = append(out, err)
	}
	walk(err)
	return out
}

// flatten unwraps errors.Join trees down to their leaves.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

var bracketRE = regexp.MustCompile(`\[([^\]]*)\]`)

// mapstructurePath turns mapstructure's "policies[hpa].deadline" into the config path
// "policies.hpa.deadline"; list indexes stay as "[0]".
func mapstructurePath(name string) string {
	return bracketRE.ReplaceAllStringFunc(name, func(m string) string {
		inner := m[1 : len(m)-1]
		if _, err := strconv.Atoi(inner); err == nil {
			return m
		}
		return "." + inner
	})
}

// describeDecodeError words mapstructure's own errors like ours.
func describeDecodeError(err error) string {
	var te *typeError
	if errors.As(err, &te) {
		return te.Error()
	}
	var ue *mapstructure.UnconvertibleTypeError
	if errors.As(err, &ue) {
		return (&typeError{want: ue.Expected.Type(), got: ue.Value}).Error()
	}
	var pe *mapstructure.ParseError
	if errors.As(err, &pe) {
		return (&typeError{want: pe.Expected.Type(), got: pe.Value}).Error()
	}
	return err.Error()
}

// sortedKeys returns m's keys in order (maps are never iterated where order matters).
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

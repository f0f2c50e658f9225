package config

import (
	"encoding"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// encodeValue turns a decoded config value into plain JSON-able data, the inverse of
// decoding: structs become maps keyed by their config keys (",remain" entries inlined,
// fields tagged "-" left out, nil values left out), durations become their shortest
// duration string ("30m", "1m30s", "15s"), integers int64 or uint64, floats float64, lists
// []any, maps map[string]any. Values implementing encoding.TextMarshaler become their
// text.
func encodeValue(v reflect.Value) any {
	if !v.IsValid() {
		return nil
	}
	if v.Type() == durationType {
		return formatDuration(time.Duration(v.Int()))
	}
	if v.Kind() != reflect.Pointer && v.Kind() != reflect.Interface && v.Type().Implements(textMarshalerType) {
		if b, err := v.Interface().(encoding.TextMarshaler).MarshalText(); err == nil {
			return string(b)
		}
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return encodeValue(v.Elem())
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint()
	case reflect.Float32, reflect.Float64:
		return v.Float()
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return nil
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = encodeValue(v.Index(i))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return nil
		}
		out := make(map[string]any, v.Len())
		iter := v.MapRange()
		for iter.Next() {
			out[fmt.Sprint(iter.Key().Interface())] = encodeValue(iter.Value())
		}
		return out
	case reflect.Struct:
		if v.Type() == timeType {
			return v.Interface().(time.Time).Format(time.RFC3339Nano)
		}
		si := inspect(v.Type())
		out := map[string]any{}
		if si.Remain != nil {
			if rv := fieldValue(v, si.Remain.Index); rv.IsValid() && rv.Kind() == reflect.Map {
				iter := rv.MapRange()
				for iter.Next() {
					if e := encodeValue(iter.Value()); e != nil {
						out[fmt.Sprint(iter.Key().Interface())] = e
					}
				}
			}
		}
		for _, f := range si.Fields {
			if e := encodeValue(fieldValue(v, f.Index)); e != nil {
				out[f.Name] = e
			}
		}
		return out
	default:
		return nil // funcs, channels: not config
	}
}

// formatDuration is time.Duration.String without trailing zero units: "30m" rather than
// "30m0s", "1h" rather than "1h0m0s". time.ParseDuration reads both.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

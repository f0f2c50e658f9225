package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/scalelab/scalelab/framework"
)

// Defaults returns the framework config with every field set to its `default` tag. Maps
// are empty and component sections carry no type: those come from the file.
func Defaults() framework.Config {
	var c framework.Config
	if err := applyDefaultTags(reflect.ValueOf(&c).Elem()); err != nil {
		panic("config: bad default tag in framework.Config: " + err.Error())
	}
	return c
}

// applyDefaultTags sets every field of struct v that has a `default` tag, recursing into
// nested structs (not into maps or lists, whose elements have no defaults to fill).
func applyDefaultTags(v reflect.Value) error {
	si := inspect(v.Type())
	for _, f := range si.Fields {
		fv := fieldValue(v, f.Index)
		if !fv.IsValid() {
			continue
		}
		if f.HasDef {
			d, err := parseDefault(f.Def, f.Type)
			if err != nil {
				return fmt.Errorf("%s: %w", f.Name, err)
			}
			fv.Set(d)
			continue
		}
		if ft := f.Type; ft.Kind() == reflect.Struct && !isLeafStruct(ft) {
			if err := applyDefaultTags(fv); err != nil {
				return fmt.Errorf("%s.%w", f.Name, err)
			}
		}
	}
	return nil
}

// parseDefault parses a `default` tag into a value of type t. Lists are written
// "[a b c]" (spaces or commas between elements); durations "15s"; the empty tag is the
// zero value.
func parseDefault(tag string, t reflect.Type) (reflect.Value, error) {
	v := reflect.New(t).Elem()
	tag = strings.TrimSpace(tag)
	if tag == "" {
		return v, nil
	}
	if t.Kind() == reflect.Pointer {
		e, err := parseDefault(tag, t.Elem())
		if err != nil {
			return v, err
		}
		p := reflect.New(t.Elem())
		p.Elem().Set(e)
		return p, nil
	}
	if t == durationType {
		d, err := time.ParseDuration(tag)
		if err != nil && tag != "0" {
			return v, fmt.Errorf("default %q is not a duration", tag)
		}
		v.SetInt(int64(d))
		return v, nil
	}
	switch t.Kind() {
	case reflect.String:
		v.SetString(tag)
	case reflect.Bool:
		b, err := strconv.ParseBool(tag)
		if err != nil {
			return v, fmt.Errorf("default %q is not a boolean", tag)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(tag, 10, 64)
		if err != nil {
			return v, fmt.Errorf("default %q is not an integer", tag)
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(tag, 10, 64)
		if err != nil {
			return v, fmt.Errorf("default %q is not a non-negative integer", tag)
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(tag, 64)
		if err != nil {
			return v, fmt.Errorf("default %q is not a number", tag)
		}
		v.SetFloat(f)
	case reflect.Slice:
		if !strings.HasPrefix(tag, "[") || !strings.HasSuffix(tag, "]") {
			return v, fmt.Errorf("default %q of a list must be written [a b c]", tag)
		}
		elems := strings.FieldsFunc(tag[1:len(tag)-1], func(r rune) bool { return r == ' ' || r == ',' })
		s := reflect.MakeSlice(t, 0, len(elems))
		for _, e := range elems {
			ev, err := parseDefault(e, t.Elem())
			if err != nil {
				return v, err
			}
			s = reflect.Append(s, ev)
		}
		v.Set(s)
	default:
		return v, fmt.Errorf("default tags are not supported on %s fields", t)
	}
	return v, nil
}

// CheckDefaults verifies, for every registered component with a config struct, that the
// struct's `default` tags describe what its Factory.Defaults really fills: each tag parses
// into the field's type and equals the field's value in Defaults(), and no field has a
// non-zero default without a tag. The configuration reference shows the Defaults() values;
// this keeps the tags (read by people and tools) honest. It returns every mismatch.
func CheckDefaults(reg *framework.Registry) []error {
	var errs []error
	for _, c := range components(reg) {
		if c.defaults == nil {
			continue
		}
		obj := c.defaults()
		rv := reflect.ValueOf(obj)
		if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
			errs = append(errs, fmt.Errorf("%s %q: Defaults must return a pointer to a struct, got %T", c.kind, c.typ, obj))
			continue
		}
		errs = append(errs, checkDefaultTags(fmt.Sprintf("%s %q", c.kind, c.typ), "", rv.Elem())...)
	}
	return errs
}

func checkDefaultTags(who, prefix string, v reflect.Value) []error {
	var errs []error
	for _, f := range inspect(v.Type()).Fields {
		fv := fieldValue(v, f.Index)
		if !fv.IsValid() {
			continue
		}
		key := joinKey(prefix, f.Name)
		if !f.HasDef {
			if ft := f.Type; ft.Kind() == reflect.Struct && !isLeafStruct(ft) {
				errs = append(errs, checkDefaultTags(who, key, fv)...)
				continue
			}
			if !fv.IsZero() {
				errs = append(errs, fmt.Errorf("%s: %s: Defaults() sets %s but the field has no default tag", who, key, formatDefault(fv)))
			}
			continue
		}
		want, err := parseDefault(f.Def, f.Type)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", who, key, err))
			continue
		}
		if !equalDefault(want, fv) {
			errs = append(errs, fmt.Errorf("%s: %s: default tag %q but Defaults() sets %s", who, key, f.Def, formatDefault(fv)))
		}
	}
	return errs
}

// equalDefault compares a parsed tag with a field, treating nil and empty lists alike.
func equalDefault(a, b reflect.Value) bool {
	if a.Kind() == reflect.Slice && b.Kind() == reflect.Slice && a.Len() == 0 && b.Len() == 0 {
		return true
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}

// formatDefault renders a default value for documentation: durations in their shortest
// form, lists as [a, b], strings as written.
func formatDefault(v reflect.Value) string {
	if !v.IsValid() {
		return ""
	}
	return formatPlain(encodeValue(v))
}

// formatPlain renders a plain value (as produced by encodeValue) compactly.
func formatPlain(p any) string {
	switch x := p.(type) {
	case nil:
		return ""
	case string:
		return x
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = formatPlain(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := sortedKeys(x)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ": " + formatPlain(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	default:
		return fmt.Sprint(x)
	}
}

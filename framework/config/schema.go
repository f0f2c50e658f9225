package config

import (
	"encoding"
	"reflect"
	"strconv"
	"strings"
	"time"
)

var (
	durationType        = reflect.TypeFor[time.Duration]()
	timeType            = reflect.TypeFor[time.Time]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	textMarshalerType   = reflect.TypeFor[encoding.TextMarshaler]()
)

// field is one config key of a struct: its name, where it lives and its tags.
type field struct {
	Name   string // the key (mapstructure tag name, or the lowercased field name)
	Index  []int  // reflect index path (through squashed embedded structs)
	Type   reflect.Type
	Doc    string
	Def    string // the `default` tag
	HasDef bool
}

// structInfo is the key set of a struct type as mapstructure sees it.
type structInfo struct {
	Fields []field
	// Remain is the ",remain" field collecting unknown keys, if any.
	Remain *field
}

// fieldByKey finds the field of a key, case-insensitively as mapstructure matches.
func (si structInfo) fieldByKey(key string) (field, bool) {
	for _, f := range si.Fields {
		if f.Name == key {
			return f, true
		}
	}
	for _, f := range si.Fields {
		if strings.EqualFold(f.Name, key) {
			return f, true
		}
	}
	return field{}, false
}

// keys returns the key names in declaration order.
func (si structInfo) keys() []string {
	out := make([]string, len(si.Fields))
	for i, f := range si.Fields {
		out[i] = f.Name
	}
	return out
}

// inspect returns the keys of struct type t, following mapstructure's rules with Squash
// on: unexported fields and fields tagged "-" are skipped, embedded structs (and fields
// tagged ",squash") contribute their keys, and a ",remain" field collects the rest.
func inspect(t reflect.Type) structInfo {
	var si structInfo
	var walk func(t reflect.Type, index []int)
	walk = func(t reflect.Type, index []int) {
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			tag := sf.Tag.Get("mapstructure")
			parts := strings.Split(tag, ",")
			name := parts[0]
			if name == "-" {
				continue
			}
			squash, remain := false, false
			for _, p := range parts[1:] {
				switch p {
				case "squash":
					squash = true
				case "remain":
					remain = true
				}
			}
			idx := append(append([]int(nil), index...), i)
			if sf.Anonymous && sf.Type.Kind() == reflect.Struct {
				squash = true // mapstructure with Squash on squashes every embedded struct
			}
			if squash && sf.Type.Kind() == reflect.Struct {
				walk(sf.Type, idx)
				continue
			}
			if !sf.IsExported() {
				continue
			}
			if name == "" {
				name = strings.ToLower(sf.Name)
			}
			def, hasDef := sf.Tag.Lookup("default")
			f := field{Name: name, Index: idx, Type: sf.Type, Doc: sf.Tag.Get("doc"), Def: def, HasDef: hasDef}
			if remain {
				r := f
				si.Remain = &r
				continue
			}
			si.Fields = append(si.Fields, f)
		}
	}
	walk(t, nil)
	return si
}

// isLeafStruct reports struct types that decode from a scalar rather than a mapping.
func isLeafStruct(t reflect.Type) bool {
	return t == timeType || reflect.PointerTo(t).Implements(textUnmarshalerType)
}

// deref strips pointer types.
func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// fieldValue returns v's field at index, or an invalid Value when the path crosses a nil
// pointer.
func fieldValue(v reflect.Value, index []int) reflect.Value {
	for _, i := range index {
		for v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}
			}
			v = v.Elem()
		}
		v = v.Field(i)
	}
	return v
}

// prepare walks data (a decoded YAML tree) against target type t at path before
// mapstructure decodes it. It reports unknown keys (with the nearest valid key) and
// removes them, removes null struct fields (so they keep their defaults), turns null
// entries of maps of mappings into empty mappings, and zeroes the target's list and map
// fields the data sets, so that a written list or map replaces the default instead of
// being merged into it. With stash set, the keys a ",remain" field would collect (a
// component's own keys) are moved out of the data into stash[path] instead, so the
// component can decode them strictly into its own struct. target may be invalid (for
// elements of maps and lists, which mapstructure creates fresh).
func (l *loader) prepare(path string, data any, t reflect.Type, target reflect.Value, stash map[string]map[string]any) any {
	t = deref(t)
	if target.IsValid() {
		for target.Kind() == reflect.Pointer {
			if target.IsNil() {
				target = reflect.Value{}
				break
			}
			target = target.Elem()
		}
	}
	switch t.Kind() {
	case reflect.Struct:
		if isLeafStruct(t) {
			return data
		}
		m, ok := data.(map[string]any)
		if !ok {
			return data // mapstructure reports the type error
		}
		si := inspect(t)
		var rest map[string]any
		for _, k := range sortedKeys(m) {
			v := m[k]
			f, ok := si.fieldByKey(k)
			if !ok {
				if si.Remain != nil {
					if stash != nil {
						if rest == nil {
							rest = map[string]any{}
						}
						rest[k] = v
						delete(m, k)
					}
					continue
				}
				l.unknownKey(path, k, si.keys())
				delete(m, k)
				continue
			}
			if v == nil {
				delete(m, k)
				continue
			}
			var fv reflect.Value
			if target.IsValid() {
				fv = fieldValue(target, f.Index)
				if fv.IsValid() && fv.CanSet() {
					if k := fv.Kind(); k == reflect.Slice || k == reflect.Map || k == reflect.Array {
						fv.Set(reflect.Zero(fv.Type())) // replace the default, do not merge into it
					}
				}
			}
			m[k] = l.prepare(joinKey(path, f.Name), v, f.Type, fv, stash)
		}
		if stash != nil && si.Remain != nil {
			if rest == nil {
				rest = map[string]any{}
			}
			stash[path] = rest
		}
		return m
	case reflect.Map:
		m, ok := data.(map[string]any)
		if !ok {
			return data
		}
		et := deref(t.Elem())
		for _, k := range sortedKeys(m) {
			v := m[k]
			if v == nil && (et.Kind() == reflect.Struct || et.Kind() == reflect.Map) && !isLeafStruct(et) {
				v = map[string]any{}
			}
			if v == nil {
				continue
			}
			m[k] = l.prepare(joinKey(path, k), v, t.Elem(), reflect.Value{}, stash)
		}
		return m
	case reflect.Slice, reflect.Array:
		s, ok := data.([]any)
		if !ok {
			return data
		}
		for i, v := range s {
			if v == nil {
				continue
			}
			s[i] = l.prepare(path+"["+strconv.Itoa(i)+"]", v, t.Elem(), reflect.Value{}, stash)
		}
		return s
	default:
		return data
	}
}

// unknownKey reports key under path as unknown, suggesting the nearest key of the same
// level or, failing that, the same key at another level of the framework config.
func (l *loader) unknownKey(path, key string, valid []string) {
	full := joinKey(path, key)
	valid = append(append([]string(nil), valid...), l.levelExtra[path]...)
	hint := suggest(key, valid)
	if hint == "" {
		if elsewhere := l.frameworkKeyPaths[key]; len(elsewhere) > 0 && path != parentOf(elsewhere[0]) {
			hint = "; did you mean " + elsewhere[0] + "?"
		}
	}
	where := "valid keys"
	if path != "" {
		where = "valid keys of " + path
	}
	if len(valid) == 0 {
		l.ps.add(full, "unknown key%s (%s takes no keys of its own)", hint, path)
		return
	}
	l.ps.add(full, "unknown key%s (%s: %s)", hint, where, strings.Join(valid, ", "))
}

func parentOf(p string) string {
	if i := strings.LastIndex(p, "."); i >= 0 {
		return p[:i]
	}
	return ""
}

// keyPaths indexes the leaf key names of struct type t (not descending into maps, lists or
// component keys) to their full paths, for "did you mean experiment.repetitions?".
func keyPaths(t reflect.Type) map[string][]string {
	out := map[string][]string{}
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		t = deref(t)
		if t.Kind() != reflect.Struct || isLeafStruct(t) {
			return
		}
		for _, f := range inspect(t).Fields {
			p := joinKey(prefix, f.Name)
			out[f.Name] = append(out[f.Name], p)
			walk(p, f.Type)
		}
	}
	walk("", t)
	return out
}

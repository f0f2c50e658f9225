package config

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/load"
)

// Document renders the configuration reference (docs/configuration.md) as Markdown: every
// key path with its type, default and meaning, generated from the structs the loader
// decodes into — framework sections first, then one section per registered backend, action
// design, reward term, policy and load profile type. Defaults are the values Defaults()
// and each Factory.Defaults really fill. The output depends only on the registry and is
// byte-for-byte deterministic.
func Document(reg *framework.Registry) string {
	d := &docWriter{reg: reg}
	d.intro()
	d.framework()
	d.components("Backends", kindBackend, "backend", "Keys under `backend` besides `type`.")
	d.components("Action designs", kindAction, "action", "Keys under `action` (or a policy's `action`) besides `type`.")
	d.components("Reward terms", kindReward, "reward.terms.<name>", "Keys under `reward.terms.<name>` besides `type` and `weight`.")
	d.components("Policies", kindPolicy, "policies.<name>", "Keys under `policies.<name>` besides `type`, `deadline`, `features` and `action`.")
	d.profiles()
	return strings.TrimRight(d.b.String(), "\n") + "\n"
}

type docWriter struct {
	reg *framework.Registry
	b   strings.Builder
}

func (d *docWriter) p(format string, args ...any) { fmt.Fprintf(&d.b, format, args...) }

func (d *docWriter) intro() {
	d.p("# Configuration reference\n\n")
	d.p("This page is generated from the config structs by `config.Document` (package `framework/config`); a test keeps it in step with the code. Do not edit it by hand.\n\n")
	d.p("A scalelab config is a YAML file with snake_case keys. Values come from three layers, a later one winning:\n\n")
	d.p("1. the file;\n")
	d.p("2. environment variables `SCALELAB_<PATH>`, the key path in capitals with `__` between levels: `SCALELAB_EXPERIMENT__REPETITIONS=10` sets `experiment.repetitions` (variables without `__` that name no section, such as `SCALELAB_PLUGIN_LOG_LEVEL`, are not config);\n")
	d.p("3. `--set key.path=value` arguments, in order: `--set experiment.profiles=[low,high]`.\n\n")
	d.p("An override value is a YAML scalar, or a flow list `[a, b]` or mapping `{k: v}`; a scalar takes the type of the key it sets, and a single value given for a list is a one-element list. ")
	d.p("Keys are case-insensitive. A key left out or set to null keeps its default; a list or mapping you write replaces the default one. ")
	d.p("Durations are written with a unit: `15s`, `1m30s`, `500ms` (a bare `0` is accepted). ")
	d.p("Unknown keys, wrong types and out-of-range values are errors naming the file, the key and what was expected; `scalelab validate FILE` reports all of them at once.\n\n")
	d.p("Names of policies, load profiles and reward terms use lowercase letters, digits, `_` and `-`. ")
	d.p("Keys marked *Kubernetes object* hold an embedded Kubernetes object written as in a manifest (camelCase); it is read from the file verbatim, decoded strictly by its component, and cannot be changed by overrides.\n\n")
	d.p("Every result records the config hash: the SHA-256 of the canonical JSON of the resolved config (sorted keys, defaults filled) followed by the path and SHA-256 of every file the config references (traces, modules, binaries, checkpoints).\n\n")
}

// framework documents the sections of framework.Config.
func (d *docWriter) framework() {
	d.p("## Framework sections\n\n")
	cfg := Defaults()
	v := reflect.ValueOf(cfg)
	for _, f := range inspect(v.Type()).Fields {
		d.p("### `%s`\n\n%s.\n\n", f.Name, escapeText(capitalize(f.Doc)))
		rows := d.sectionRows(f.Name, f, fieldValue(v, f.Index))
		d.table(rows)
	}
}

type docRow struct{ key, typ, def, doc string }

func (d *docWriter) table(rows []docRow) {
	if len(rows) == 0 {
		d.p("No keys besides `type`.\n\n")
		return
	}
	d.p("| Key | Type | Default | Meaning |\n| --- | --- | --- | --- |\n")
	for _, r := range rows {
		def := r.def
		if def == "" {
			def = "—"
		} else if !strings.HasPrefix(def, "*") {
			def = "`" + def + "`"
		}
		typ := r.typ
		if typ == "" {
			typ = "—"
		}
		d.p("| `%s` | %s | %s | %s |\n", r.key, typ, escapeCell(def), escapeText(escapeCell(r.doc)))
	}
	d.p("\n")
}

var (
	componentConfigType = reflect.TypeFor[framework.ComponentConfig]()
	policyConfigType    = reflect.TypeFor[framework.PolicyConfig]()
)

// sectionRows documents one top-level section.
func (d *docWriter) sectionRows(name string, f field, v reflect.Value) []docRow {
	switch name {
	case "backend":
		types, _ := table(d.reg, kindBackend)
		return []docRow{
			{"backend.type", "string", "*required*", "the backend type, one of: " + codeList(types)},
			{"backend.<key>", "", "", "the chosen backend's keys: see [Backends](#backends)"},
		}
	case "action":
		types, _ := table(d.reg, kindAction)
		return []docRow{
			{"action.type", "string", "*none*", "the action design of learned policies, one of: " + codeList(types) + "; optional when every policy brings its own design (baselines)"},
			{"action.<key>", "", "", "the chosen design's keys: see [Action designs](#action-designs)"},
		}
	case "reward":
		types, _ := table(d.reg, kindReward)
		return []docRow{
			{"reward.terms", "map of name → mapping", "*none*", "the reward terms; the step reward is the sum of weight × term"},
			{"reward.terms.<name>.type", "string", "*the term's name*", "the reward term type, one of: " + codeList(types)},
			{"reward.terms.<name>.weight", "number", "1", "multiplies the term's value"},
			{"reward.terms.<name>.<key>", "", "", "the term type's keys: see [Reward terms](#reward-terms)"},
		}
	case "profiles":
		return []docRow{
			{"profiles.<name>.type", "string", "*required*", "the load profile type, one of: " + codeList(load.Types()) + "; built-ins " + codeList(load.BuiltinNames()) + " need no entry (an entry of the same name replaces the built-in)"},
			{"profiles.<name>.<key>", "", "", "the profile type's keys: see [Load profiles](#load-profiles)"},
		}
	case "policies":
		types, _ := table(d.reg, kindPolicy)
		rows := []docRow{{"policies.<name>.type", "string", "*required*", "the policy type, one of: " + codeList(types)}}
		pv := reflect.New(policyConfigType).Elem()
		for _, pf := range inspect(policyConfigType).Fields {
			switch pf.Name {
			case "type":
			case "action":
				atypes, _ := table(d.reg, kindAction)
				rows = append(rows,
					docRow{"policies.<name>.action.type", "string", "*none*", pf.Doc + "; one of: " + codeList(atypes)},
					docRow{"policies.<name>.action.<key>", "", "", "the design's keys: see [Action designs](#action-designs)"})
			default:
				rows = append(rows, d.rows("policies.<name>", pf, fieldValue(pv, pf.Index))...)
			}
		}
		return append(rows, docRow{"policies.<name>.<key>", "", "", "the policy type's keys: see [Policies](#policies)"})
	case "train":
		return []docRow{
			{"train.type", "string", "*none*", "the trainer's type (training configs only)"},
			{"train.<key>", "", "", "training settings, handed to the trainer as written"},
		}
	}
	if f.Type == componentConfigType {
		return []docRow{{name + ".type", "string", "*required*", f.Doc}}
	}
	return d.rows("", f, v)
}

// rows documents field f (with value v, invalid for elements of maps and lists) under
// prefix, recursing into nested structs, map and list elements.
func (d *docWriter) rows(prefix string, f field, v reflect.Value) []docRow {
	key := joinKey(prefix, f.Name)
	t := f.Type
	et := deref(t)
	switch {
	case et.Kind() == reflect.Struct && !isLeafStruct(et):
		return d.structRows(key, et, v)
	case et.Kind() == reflect.Map && isStructLike(et.Elem()):
		sub := d.structRows(key+".<name>", deref(et.Elem()), reflect.Value{})
		return append([]docRow{{key, "map of name → mapping", defaultCell(f, v), f.Doc}}, sub...)
	case (et.Kind() == reflect.Slice || et.Kind() == reflect.Array) && isStructLike(et.Elem()):
		sub := d.structRows(key+"[]", deref(et.Elem()), reflect.Value{})
		return append([]docRow{{key, "list of mappings", defaultCell(f, v), f.Doc}}, sub...)
	}
	return []docRow{{key, docType(t), defaultCell(f, v), f.Doc}}
}

func (d *docWriter) structRows(prefix string, t reflect.Type, v reflect.Value) []docRow {
	si := inspect(t)
	var rows []docRow
	for _, f := range si.Fields {
		var fv reflect.Value
		if v.IsValid() {
			fv = fieldValue(v, f.Index)
		}
		rows = append(rows, d.rows(prefix, f, fv)...)
	}
	if si.Remain != nil {
		rows = append(rows, docRow{prefix + ".<key>", "any", "", "further keys, kept as written"})
	}
	return rows
}

func isStructLike(t reflect.Type) bool {
	t = deref(t)
	return t.Kind() == reflect.Struct && !isLeafStruct(t)
}

// defaultCell is the default column: the value Defaults() filled when the field has a
// default tag or a non-zero value.
func defaultCell(f field, v reflect.Value) string {
	if !v.IsValid() {
		if f.HasDef {
			return strings.TrimSpace(f.Def)
		}
		return ""
	}
	if !f.HasDef && v.IsZero() {
		return ""
	}
	switch deref(v.Type()).Kind() {
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Pointer && v.IsNil() || reflect.Indirect(v).Len() == 0 {
			return "[]"
		}
	case reflect.Map:
		if v.Kind() == reflect.Pointer && v.IsNil() || reflect.Indirect(v).Len() == 0 {
			return "{}"
		}
	case reflect.String:
		if s := formatDefault(v); s == "" {
			return `""`
		}
	}
	return formatDefault(v)
}

// docType names a field's type for the reference.
func docType(t reflect.Type) string {
	if t == durationType {
		return "duration"
	}
	t = deref(t)
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "list of " + plural(docType(t.Elem()))
	case reflect.Map:
		if t.Elem().Kind() == reflect.Interface {
			return "mapping"
		}
		return "map of name → " + docType(t.Elem())
	case reflect.Interface:
		return "any"
	case reflect.Struct:
		if isLeafStruct(t) {
			return "string"
		}
		return "mapping"
	}
	return t.String()
}

// plural turns a docType into its plural for "list of ...".
func plural(s string) string {
	switch {
	case s == "any":
		return "values"
	case strings.HasPrefix(s, "list of "), strings.HasPrefix(s, "map of "):
		return s
	default:
		return s + "s"
	}
}

// components documents every registered component of one kind.
func (d *docWriter) components(title, kind, prefix, lead string) {
	types, get := table(d.reg, kind)
	d.p("## %s\n\n%s\n\n", title, lead)
	if len(types) == 0 {
		d.p("None registered.\n\n")
		return
	}
	for _, typ := range types {
		c, _ := get(typ)
		d.p("### `%s`\n\n", typ)
		if c.doc != "" {
			d.p("%s\n\n", escapeText(sentence(c.doc)))
		}
		var rows []docRow
		raw := map[string]bool{}
		for _, rk := range c.rawKeys {
			raw[strings.ToLower(rk)] = true
		}
		if c.defaults != nil {
			obj := c.defaults()
			rv := reflect.ValueOf(obj)
			if rv.Kind() == reflect.Pointer && !rv.IsNil() && rv.Elem().Kind() == reflect.Struct {
				for _, f := range inspect(rv.Elem().Type()).Fields {
					if raw[strings.ToLower(f.Name)] {
						continue
					}
					rows = append(rows, d.rows(prefix, f, fieldValue(rv.Elem(), f.Index))...)
				}
			}
		}
		for _, rk := range c.rawKeys {
			doc := "embedded Kubernetes object, passed to the component as written"
			if c.defaults != nil {
				if rv := reflect.ValueOf(c.defaults()); rv.Kind() == reflect.Pointer && !rv.IsNil() && rv.Elem().Kind() == reflect.Struct {
					if f, ok := inspect(rv.Elem().Type()).fieldByKey(rk); ok && f.Doc != "" {
						doc = f.Doc
					}
				}
			}
			rows = append(rows, docRow{joinKey(prefix, rk), "*Kubernetes object* (camelCase)", "", doc})
		}
		d.table(rows)
	}
}

// profiles documents the load profile types.
func (d *docWriter) profiles() {
	d.p("## Load profiles\n\nKeys under `profiles.<name>` besides `type`. Built-in profiles: %s (see docs/simulator.md).\n\n", codeList(load.BuiltinNames()))
	for _, typ := range load.Types() {
		obj, ok := load.DefaultParams(typ)
		if !ok {
			continue
		}
		d.p("### `%s`\n\n", typ)
		rv := reflect.ValueOf(obj)
		var rows []docRow
		if rv.Kind() == reflect.Pointer && rv.Elem().Kind() == reflect.Struct {
			for _, f := range inspect(rv.Elem().Type()).Fields {
				rows = append(rows, d.rows("profiles.<name>", f, fieldValue(rv.Elem(), f.Index))...)
			}
		}
		d.table(rows)
	}
}

func codeList(items []string) string {
	if len(items) == 0 {
		return "*none registered*"
	}
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = "`" + s + "`"
	}
	return strings.Join(out, ", ")
}

func escapeCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

// escapeText keeps Markdown from reading prose as HTML ("<out>/<name>") outside code
// spans.
func escapeText(s string) string {
	var b strings.Builder
	inCode := false
	for _, r := range s {
		switch {
		case r == '`':
			inCode = !inCode
			b.WriteRune(r)
		case r == '<' && !inCode:
			b.WriteString("&lt;")
		case r == '>' && !inCode:
			b.WriteString("&gt;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func sentence(s string) string {
	s = capitalize(strings.TrimSpace(s))
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

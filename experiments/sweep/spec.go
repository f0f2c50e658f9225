package sweep

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/scalelab/scalelab/experiments"
)

// File is a sweep file as written: a base config plus axes.
type File struct {
	// Name names the sweep and its results folder (default: the file's base name).
	Name string `yaml:"name"`
	// Base is the base experiment config, relative to the sweep file.
	Base string `yaml:"base"`
	// Config is an inline base config (instead of Base).
	Config map[string]any `yaml:"config"`
	// Set are overrides applied to every cell before the axes' values.
	Set Assignments `yaml:"set"`
	// Mode combines the axes: "product" (every combination, the default) or "zip" (the
	// i-th value of every axis together; all axes need the same length).
	Mode string `yaml:"mode"`
	// Axes are the dimensions of the sweep, in order: the first varies slowest.
	Axes []Axis `yaml:"axes"`
	// Train says how trained checkpoints reach the learning policies.
	Train TrainSpec `yaml:"train"`
}

// Axis is one dimension: a config key with a list of values, or named variants (each a set
// of key → value assignments).
type Axis struct {
	// Name is the axis' name in cell IDs and reports (default: the last segment of Key).
	Name string `yaml:"name"`
	// Key is the config key the values set (dotted path, as for --set).
	Key string `yaml:"key"`
	// Values are the values Key takes.
	Values []any `yaml:"values"`
	// Labels name Values in cell IDs (default: the values as text).
	Labels []string `yaml:"labels"`
	// Variants are named sets of assignments, in the order written.
	Variants Variants `yaml:"variants"`
}

// TrainSpec says where a learning policy's trained checkpoint is and how the policy is
// pointed at it.
type TrainSpec struct {
	// CheckpointKey is the key under policies.<name> naming the checkpoint file the policy
	// loads (default "checkpoint").
	CheckpointKey string `yaml:"checkpoint_key"`
	// CheckpointFile is the file a trainer writes into its output directory (default
	// "checkpoint.json").
	CheckpointFile string `yaml:"checkpoint_file"`
}

// Assignment sets one config key.
type Assignment struct {
	Key   string
	Value any
}

// Assignments is an ordered mapping of config keys to values (a YAML mapping; order kept).
type Assignments []Assignment

// UnmarshalYAML decodes a mapping keeping its order.
func (a *Assignments) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: want a mapping of config keys to values", n.Line)
	}
	out := make(Assignments, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		var v any
		if err := n.Content[i+1].Decode(&v); err != nil {
			return fmt.Errorf("line %d: %w", n.Content[i+1].Line, err)
		}
		out = append(out, Assignment{Key: n.Content[i].Value, Value: v})
	}
	*a = out
	return nil
}

// Variant is one named set of assignments.
type Variant struct {
	Name string
	Set  Assignments
}

// Variants are an axis' variants in the order written: a mapping of name → assignments, or
// a list of {name, set} entries.
type Variants []Variant

// UnmarshalYAML decodes either form, keeping the order.
func (vs *Variants) UnmarshalYAML(n *yaml.Node) error {
	var out Variants
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			var set Assignments
			if err := n.Content[i+1].Decode(&set); err != nil {
				return fmt.Errorf("variant %q: %w", n.Content[i].Value, err)
			}
			out = append(out, Variant{Name: n.Content[i].Value, Set: set})
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			var v struct {
				Name string      `yaml:"name"`
				Set  Assignments `yaml:"set"`
			}
			dec := c
			if err := strictDecode(dec, &v); err != nil {
				return err
			}
			out = append(out, Variant{Name: v.Name, Set: v.Set})
		}
	default:
		return fmt.Errorf("line %d: variants must be a mapping of name → {key: value} or a list of {name, set}", n.Line)
	}
	*vs = out
	return nil
}

// strictDecode decodes a node into v rejecting unknown fields.
func strictDecode(n *yaml.Node, v any) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return nil
}

// ReadFile reads and checks a sweep file strictly: unknown keys, a missing base, an empty
// axis, values and variants on one axis, labels that do not match the values, zipped axes
// of different lengths and labels that collide after sanitising are errors naming the file
// and the axis.
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sweep file: %w", err)
	}
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty sweep file", path)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if f.Name == "" {
		f.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	if f.Mode == "" {
		f.Mode = ModeProduct
	}
	if f.Train.CheckpointKey == "" {
		f.Train.CheckpointKey = experiments.CheckpointKey
	}
	if f.Train.CheckpointFile == "" {
		f.Train.CheckpointFile = "checkpoint.json"
	}
	if errs := f.validate(); len(errs) > 0 {
		return nil, fmt.Errorf("%s: %w", path, errors.Join(errs...))
	}
	return &f, nil
}

// Modes of combining axes.
const (
	ModeProduct = "product"
	ModeZip     = "zip"
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func (f *File) validate() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if !nameRE.MatchString(f.Name) {
		bad("name", "must be a folder name (letters, digits, ., _ and -), got %q", f.Name)
	}
	switch {
	case f.Base == "" && f.Config == nil:
		bad("base", "name the base config file (or give it inline under config)")
	case f.Base != "" && f.Config != nil:
		bad("base", "give either base or config, not both")
	}
	if f.Mode != ModeProduct && f.Mode != ModeZip {
		bad("mode", "must be product or zip, got %q", f.Mode)
	}
	for i, a := range f.Set {
		if err := checkAssignment(a); err != nil {
			bad(fmt.Sprintf("set[%d]", i), "%v", err)
		}
	}
	names := map[string]bool{}
	n0 := -1
	for i := range f.Axes {
		a := &f.Axes[i]
		key := fmt.Sprintf("axes[%d]", i)
		if a.Name == "" && a.Key != "" {
			segs := strings.Split(a.Key, ".")
			a.Name = segs[len(segs)-1]
		}
		a.Name = sanitize(a.Name)
		if a.Name == "" {
			bad(key+".name", "an axis of variants needs a name")
		} else if names[a.Name] {
			bad(key+".name", "axis %q appears twice", a.Name)
		}
		names[a.Name] = true
		hasValues, hasVariants := a.Key != "" || len(a.Values) > 0, len(a.Variants) > 0
		switch {
		case hasValues && hasVariants:
			bad(key, "give either key with values or variants, not both")
			continue
		case !hasValues && !hasVariants:
			bad(key, "give key with values, or variants")
			continue
		case hasValues && a.Key == "":
			bad(key+".key", "values need the config key they set")
			continue
		case hasValues && len(a.Values) == 0:
			bad(key+".values", "list at least one value for %s", a.Key)
			continue
		}
		if hasValues {
			if len(a.Labels) > 0 && len(a.Labels) != len(a.Values) {
				bad(key+".labels", "has %d labels for %d values", len(a.Labels), len(a.Values))
				continue
			}
			for j, v := range a.Values {
				if _, err := SetValue(v); err != nil {
					bad(fmt.Sprintf("%s.values[%d]", key, j), "%v", err)
				}
			}
		}
		for j, v := range a.Variants {
			if len(v.Set) == 0 {
				bad(fmt.Sprintf("%s.variants.%s", key, v.Name), "assigns no key")
			}
			for _, as := range v.Set {
				if err := checkAssignment(as); err != nil {
					bad(fmt.Sprintf("%s.variants.%s", key, v.Name), "%v", err)
				}
			}
			_ = j
		}
		labels := a.labels()
		seen := map[string]int{}
		for j, l := range labels {
			if l == "" {
				bad(key, "value %d has an empty label: give labels", j)
			} else if len(l) > 48 {
				bad(key, "label %q is longer than 48 characters: give the axis short labels", l)
			}
			if k, dup := seen[l]; dup {
				bad(key, "values %d and %d both have the label %q: give distinct labels", k, j, l)
			}
			seen[l] = j
		}
		if f.Mode == ModeZip {
			if n0 >= 0 && a.Len() != n0 {
				bad(key, "zip mode needs axes of equal length: %s has %d values, the first axis %d", a.Name, a.Len(), n0)
			}
			if n0 < 0 {
				n0 = a.Len()
			}
		}
	}
	return errs
}

func checkAssignment(a Assignment) error {
	if a.Key == "" || strings.ContainsAny(a.Key, "[] =") {
		return fmt.Errorf("%q is not a config key path", a.Key)
	}
	_, err := SetValue(a.Value)
	return err
}

// Len is the number of values or variants of the axis.
func (a Axis) Len() int {
	if len(a.Variants) > 0 {
		return len(a.Variants)
	}
	return len(a.Values)
}

// labels returns the sanitised labels of the axis' values or variants.
func (a Axis) labels() []string {
	out := make([]string, a.Len())
	for i := range out {
		switch {
		case len(a.Variants) > 0:
			out[i] = sanitize(a.Variants[i].Name)
		case len(a.Labels) > 0:
			out[i] = sanitize(a.Labels[i])
		default:
			out[i] = sanitize(valueLabel(a.Values[i]))
		}
	}
	return out
}

// assignments returns the key → value settings of value i.
func (a Axis) assignments(i int) Assignments {
	if len(a.Variants) > 0 {
		return a.Variants[i].Set
	}
	return Assignments{{Key: a.Key, Value: a.Values[i]}}
}

// valueLabel renders a value for a cell ID: scalars as text, lists joined with "+", maps
// as key-value pairs joined with "+".
func valueLabel(v any) string {
	switch x := v.(type) {
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = valueLabel(e)
		}
		return strings.Join(parts, "+")
	case map[string]any:
		keys := sortedKeys(x)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "-" + valueLabel(x[k])
		}
		return strings.Join(parts, "+")
	default:
		s, _ := SetValue(v)
		return s
	}
}

var (
	unsafeRE     = regexp.MustCompile(`[^a-z0-9._+-]+`)
	unsafeEndsRE = regexp.MustCompile(`^[^a-z0-9._+-]+|[^a-z0-9._+-]+$`)
)

// sanitize lowercases s, drops characters other than letters, digits, '.', '_', '+' and
// '-' at its ends and replaces every inner run of them by one '-' ("No GPU!" → "no-gpu",
// "-1" stays "-1").
func sanitize(s string) string {
	s = unsafeEndsRE.ReplaceAllString(strings.ToLower(s), "")
	return unsafeRE.ReplaceAllString(s, "-")
}

// SetValue renders a value as the text of a --set override: scalars as plain text (typed
// by the key they set), lists and mappings as JSON, which is a YAML flow collection.
func SetValue(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", errors.New("a value is null: write the value (or leave the key out of the sweep)")
	case string:
		if t := strings.TrimSpace(x); strings.HasPrefix(t, "[") || strings.HasPrefix(t, "{") {
			return "", fmt.Errorf("string value %q starts with a bracket: write it as a YAML list or mapping", x)
		}
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "", fmt.Errorf("value %v is not a finite number", x)
		}
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case []any, map[string]any:
		b, err := json.Marshal(x)
		if err != nil {
			return "", fmt.Errorf("value %v: %w", x, err)
		}
		return string(b), nil
	}
	return "", fmt.Errorf("unsupported value %v (%T)", v, v)
}

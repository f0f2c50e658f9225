package config

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/spf13/viper"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/load"
)

// Options adjusts LoadWithOptions.
type Options struct {
	// Sets are --set overrides, "key.path=value", applied in order after the environment.
	Sets []string
	// Env is the environment as KEY=value pairs, searched for SCALELAB_ overrides; nil
	// means os.Environ(). Tests pass their own.
	Env []string
}

// RewardTerm is one resolved reward term.
type RewardTerm struct {
	// Name is the term's key under reward.terms.
	Name string
	// Type is the reward term type (the name unless `type` was given).
	Type string
	// Weight multiplies the term's value (default 1).
	Weight float64
	// Config is the decoded config struct from the term factory's Defaults (nil if the
	// term takes no keys); the same value as Components["reward.terms.<name>"].
	Config any
}

// FileDigest is a file the config references, with its digest.
type FileDigest struct {
	// Path is the file relative to the config's directory, slash-separated, as hashed.
	Path string
	// Abs is the absolute path read.
	Abs string
	// SHA256 is the hex SHA-256 of the file's content.
	SHA256 string
}

// Loaded is a config loaded, resolved and validated.
type Loaded struct {
	// Config is the resolved config. Component sections' Params hold the component's
	// resolved keys (defaults filled, plain values as in Resolved, without raw keys); a
	// reward term's Params also hold its "weight"; PolicyConfig.Raw holds the policy's
	// raw keys (Factory.RawKeys) as written in the file, case preserved.
	Config framework.Config
	// File is the config file as the caller named it; BaseDir is its absolute directory,
	// against which relative paths in the config resolve.
	File    string
	BaseDir string
	// Components are the decoded component config structs (the pointers returned by the
	// factories' Defaults, filled from the config; nil for components that take no keys)
	// by key path: "backend", "action" (absent when the config has no action section),
	// "reward.terms.<name>", "policies.<name>", "policies.<name>.action". Pass them to
	// Factory.New.
	Components map[string]any
	// Raw holds, by component key path, the component's raw keys (Factory.RawKeys): the
	// embedded Kubernetes objects as written in the file, keys case-preserved, values as
	// sigs.k8s.io/yaml decodes them (numbers are float64). Every component with raw keys has
	// an entry, possibly empty. Pass Raw[path] as BuildContext.Raw.
	Raw map[string]map[string]any
	// RewardTerms are the reward terms sorted by name.
	RewardTerms []RewardTerm
	// Weights are the reward terms' weights by term name (the same as in RewardTerms).
	Weights map[string]float64
	// Profiles are the load profiles by name: every entry under `profiles` and every
	// built-in that experiment.profiles names.
	Profiles map[string]load.Profile
	// Files are the files the config references (Factory.Files, trace profiles), sorted by
	// Path; their digests enter Hash.
	Files []FileDigest
	// Resolved is the fully resolved config as plain JSON-able values: defaults filled,
	// overrides applied, every key present that has a value (null values left out),
	// durations as strings in their shortest form ("30m", "15s"), component sections with
	// their type and resolved keys, a reward term's type and weight spelled out, raw keys
	// as written in the file (case preserved). Loading the file WriteResolved writes gives
	// the same Resolved and Hash.
	Resolved map[string]any
	// Hash identifies the experiment's inputs: the hex SHA-256 of
	//
	//	canonical JSON of Resolved without experiment.out and experiment.workers
	//	(where results go and how many runs execute at once cannot change them)
	//	then, for every referenced file in Files (sorted by Path, each once):
	//	"\n" + Path + " " + hex SHA-256 of the file's content
	//
	// where the canonical JSON is encoding/json's encoding (map keys sorted, no
	// indentation, no HTML escaping, no trailing newline). Identical configs written with
	// different key order, comments or layout hash alike; a changed value or a changed
	// referenced file changes the hash.
	Hash string
}

// Load reads the config file at path, applies the SCALELAB_ environment overrides
// (os.Environ) and the --set overrides sets, fills defaults, decodes every section
// strictly, validates it and resolves it against the registry. On any problem it returns
// a nil *Loaded and an *Error listing every problem found. It writes nothing.
func Load(path string, sets []string, reg *framework.Registry) (*Loaded, error) {
	return LoadWithOptions(path, reg, Options{Sets: sets})
}

// Validate checks the config at path as Load does, without keeping the result: it is
// what `scalelab validate` runs. The error is an *Error listing every problem.
func Validate(path string, sets []string, reg *framework.Registry) error {
	_, err := Load(path, sets, reg)
	return err
}

// LoadWithOptions is Load with the overrides and environment given explicitly.
func LoadWithOptions(path string, reg *framework.Registry, opts Options) (*Loaded, error) {
	if reg == nil {
		return nil, errors.New("config: Load needs a registry")
	}
	l := &loader{
		reg:               reg,
		file:              path,
		ps:                problems{origins: map[string]string{}},
		frameworkKeyPaths: keyPaths(reflect.TypeFor[framework.Config]()),
		levelExtra:        map[string][]string{},
		raw:               map[string]map[string]any{},
		files:             map[string]string{},
	}
	out := l.load(opts)
	file := path
	if file == "" {
		file = "(no file)"
	}
	if err := l.ps.finish(file); err != nil {
		return nil, err
	}
	return out, nil
}

// loader holds the state of one Load.
type loader struct {
	reg     *framework.Registry
	file    string
	baseDir string
	ps      problems

	frameworkKeyPaths map[string][]string
	// levelExtra are keys valid at a component's level besides its struct's (type, weight,
	// deadline, raw keys), for unknown-key messages.
	levelExtra map[string][]string
	rawTree    map[string]any
	overrides  []override
	// raw are the raw keys by component path; rawPaths the full key paths of raw values.
	raw      map[string]map[string]any
	rawPaths []string
	// files maps a referenced file (absolute) to the component key that references it.
	files map[string]string
}

// load runs the pipeline, collecting every problem in l.ps. It returns the result, which
// is only meaningful when no problem was found.
func (l *loader) load(opts Options) *Loaded {
	if l.file == "" {
		l.ps.add("", "no config file given")
		return nil
	}
	data, err := os.ReadFile(l.file)
	if err != nil {
		l.ps.add("", "cannot read the config file: %v", unwrapPathError(err))
		return nil
	}
	abs, err := filepath.Abs(l.file)
	if err != nil {
		l.ps.add("", "cannot resolve the config file's directory: %v", err)
		return nil
	}
	l.baseDir = filepath.Dir(abs)
	l.ps.inFile = func(key string) bool {
		if strings.ContainsAny(key, "[]") {
			return true // list elements: only the file can have them
		}
		_, ok := l.rawValue(strings.Split(key, "."))
		return ok
	}

	tree, ok := l.read(data)
	if !ok {
		return nil
	}
	env := opts.Env
	if env == nil {
		env = os.Environ()
	}
	l.apply(tree, l.parseEnv(env))
	l.apply(tree, l.parseSets(opts.Sets))

	cfg := Defaults()
	stash := map[string]map[string]any{}
	tree, _ = l.prepare("", tree, reflect.TypeFor[framework.Config](), reflect.ValueOf(&cfg).Elem(), stash).(map[string]any)
	l.decode("", tree, &cfg)

	out := &Loaded{
		File:       l.file,
		BaseDir:    l.baseDir,
		Components: map[string]any{},
		Raw:        l.raw,
		Weights:    map[string]float64{},
		Profiles:   map[string]load.Profile{},
	}
	l.validateFramework(&cfg)
	l.resolveBackend(&cfg, stash, out)
	l.resolveAction(&cfg, stash, out)
	l.resolveRewards(&cfg, stash, out)
	l.resolvePolicies(&cfg, stash, out)
	l.resolveProfiles(&cfg, stash, out)
	if t := stash["train"]; len(t) > 0 {
		cfg.Train.Params = plainify(t).(map[string]any)
	}
	l.checkRawOverrides()
	l.checkCaseDuplicates()
	out.Config = cfg
	if len(l.ps.list) > 0 {
		return nil
	}
	out.Files = l.digestFiles()
	if len(l.ps.list) > 0 {
		return nil
	}
	out.Resolved = l.resolved(&cfg)
	h, err := hashOf(out.Resolved, out.Files)
	if err != nil {
		l.ps.add("", "cannot hash the resolved config: %v", err)
		return nil
	}
	out.Hash = h
	return out
}

// read parses the file with viper (keys lowercased: the tree that is decoded) and with
// sigs.k8s.io/yaml (keys case-preserved: for raw keys and the duplicate-key check).
func (l *loader) read(data []byte) (map[string]any, bool) {
	v := viper.New()
	v.SetConfigType("yaml")
	verr := v.ReadConfig(bytes.NewReader(data))
	var raw any
	if err := sigsyaml.Unmarshal(data, &raw); err != nil {
		l.ps.add("", "malformed YAML: %s", cleanYAMLError(err))
		return nil, false
	}
	switch r := raw.(type) {
	case nil:
		l.rawTree = map[string]any{}
	case map[string]any:
		l.rawTree = r
	default:
		l.ps.add("", "the file must hold a mapping of sections (experiment:, backend:, policies:, ...), got %s", describeValue(raw))
		return nil, false
	}
	if verr != nil {
		var pe viper.ConfigParseError
		if errors.As(verr, &pe) {
			verr = pe.Unwrap()
		}
		l.ps.add("", "malformed YAML: %s", cleanYAMLError(verr))
		return nil, false
	}
	// viper's merged view (AllSettings) drops empty mappings such as a reward term written
	// `gpu_util: {}`, so take each top-level section as viper parsed it.
	tree := map[string]any{}
	for _, k := range sortedKeys(l.rawTree) {
		lk := strings.ToLower(k)
		tree[lk] = deepCopy(v.Get(lk))
	}
	return tree, true
}

// cleanYAMLError shortens YAML library errors to "line N: problem".
func cleanYAMLError(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "error converting YAML to JSON: ")
	s = strings.TrimPrefix(s, "yaml: ")
	s = strings.TrimPrefix(s, "unmarshal errors:\n")
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, "; ")
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[strings.ToLower(fmt.Sprint(k))] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}

// nameRE is what names of policies, profiles and reward terms must look like: they name
// result folders and trajectory columns.
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

func (l *loader) checkName(path, name string) {
	if !nameRE.MatchString(name) {
		l.ps.add(path, "invalid name %q: use lowercase letters, digits, _ and - (it names result folders)", name)
	}
}

// buildContext is the context Factory.Check sees at load time.
func (l *loader) buildContext(cfg *framework.Config, name string, features []string) framework.BuildContext {
	var specs []framework.FeatureSpec
	for _, f := range features {
		if s, err := framework.LookupFeature(f); err == nil {
			specs = append(specs, s)
		}
	}
	return framework.BuildContext{
		Name:     name,
		Features: specs,
		State:    cfg.State,
		Workload: cfg.Workload,
		SLO:      cfg.SLO,
		Interval: cfg.Experiment.ControlInterval,
		Seed:     cfg.Experiment.Seed,
		BaseDir:  l.baseDir,
		Registry: l.reg,
		Logger:   slog.New(slog.DiscardHandler),
	}
}

// component resolves one component section at path: its type against the registry, its
// raw keys from the file, its keys decoded strictly into the factory's Defaults struct,
// then the struct's Validate and the factory's Check. typeKey is where a type problem is
// reported. It returns the decoded struct (nil for factories without keys) and whether
// everything succeeded.
func (l *loader) component(path, typeKey, kind, typ string, params map[string]any, bc framework.BuildContext, extra []string) (any, bool) {
	types, get := table(l.reg, kind)
	if l.sectionTypeError(path) {
		return nil, false // the section is not a mapping: already reported
	}
	if typ == "" {
		l.ps.add(typeKey, "required: the %s type, one of: %s", kind, oneOf(types))
		return nil, false
	}
	info, found := get(typ)
	if !found {
		l.ps.add(typeKey, "unknown %s type %q%s (registered: %s)", kind, typ, suggest(typ, types), oneOf(types))
		return nil, false
	}
	if params == nil {
		params = map[string]any{}
	}
	var raw map[string]any
	if len(info.rawKeys) > 0 {
		raw = map[string]any{}
		for _, rk := range info.rawKeys {
			for _, k := range sortedKeys(params) {
				if strings.EqualFold(k, rk) {
					delete(params, k)
				}
			}
			rp := joinKey(path, rk)
			l.rawPaths = append(l.rawPaths, strings.ToLower(rp))
			if v, ok := l.rawValue(strings.Split(rp, ".")); ok && v != nil {
				raw[rk] = v
			}
		}
		l.raw[path] = raw
	}
	bc.Raw = raw
	l.levelExtra[path] = append(append([]string(nil), extra...), info.rawKeys...)

	// Unknown keys are reported and dropped; the struct is still validated and checked
	// (the keys it has are sound), so one run reports those problems too. A type error
	// leaves the struct half-decoded, and checks on it would mislead: they are skipped.
	before := len(l.ps.list)
	var obj any
	if info.defaults == nil {
		for _, k := range sortedKeys(params) {
			l.unknownKey(path, k, nil)
		}
	} else {
		obj = info.defaults()
		rv := reflect.ValueOf(obj)
		if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
			l.ps.add(path, "internal error: the %s %q factory's Defaults returned %T, not a pointer to a struct", kind, typ, obj)
			return nil, false
		}
		params, _ = l.prepare(path, params, rv.Type(), rv.Elem(), nil).(map[string]any)
		if !l.decode(path, params, obj) {
			return obj, false
		}
	}
	if obj != nil {
		l.callValidate(path, obj)
	}
	if info.check != nil {
		l.callCheck(path, kind, typ, info.check, bc, obj)
	}
	if len(l.ps.list) != before {
		return obj, false
	}
	if info.files != nil {
		l.callFiles(path, kind, typ, info.files, obj)
	}
	return obj, true
}

// callValidate runs a config struct's Validate() []error or Validate() error.
func (l *loader) callValidate(path string, obj any) {
	defer l.recoverAs(path, "Validate")
	switch v := obj.(type) {
	case interface{ Validate() []error }:
		for _, err := range v.Validate() {
			if err != nil {
				l.ps.addErr(path, err)
			}
		}
	case interface{ Validate() error }:
		if err := v.Validate(); err != nil {
			for _, e := range flatten(err) {
				l.ps.addErr(path, e)
			}
		}
	}
}

func (l *loader) callCheck(path, kind, typ string, check func(framework.BuildContext, any) []error, bc framework.BuildContext, obj any) {
	defer l.recoverAs(path, fmt.Sprintf("the %s %q check", kind, typ))
	for _, err := range check(bc, obj) {
		if err != nil {
			l.ps.addErr(path, err)
		}
	}
}

func (l *loader) callFiles(path, kind, typ string, files func(string, any) []string, obj any) {
	defer l.recoverAs(path, fmt.Sprintf("the %s %q Files hook", kind, typ))
	for _, f := range files(l.baseDir, obj) {
		l.addFile(path, f)
	}
}

// recoverAs turns a panic in component code into a problem, so one broken component does
// not hide the other problems of a config.
func (l *loader) recoverAs(path, what string) {
	if r := recover(); r != nil {
		l.ps.add(path, "internal error: %s panicked: %v", what, r)
	}
}

// rawValue looks a key path up in the case-preserved tree, matching keys
// case-insensitively as viper does.
func (l *loader) rawValue(segs []string) (any, bool) {
	var cur any = l.rawTree
	for _, s := range segs {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		found := false
		for _, k := range sortedKeys(m) {
			if strings.EqualFold(k, s) {
				cur, found = m[k], true
				break
			}
		}
		if !found {
			return nil, false
		}
	}
	return cur, true
}

func (l *loader) addFile(key, f string) {
	if f == "" {
		return
	}
	if !filepath.IsAbs(f) {
		f = filepath.Join(l.baseDir, f)
	}
	f = filepath.Clean(f)
	if _, dup := l.files[f]; !dup {
		l.files[f] = key
	}
}

func (l *loader) resolveBackend(cfg *framework.Config, stash map[string]map[string]any, out *Loaded) {
	bc := l.buildContext(cfg, "backend", cfg.State.Features)
	obj, ok := l.component("backend", "backend.type", kindBackend, cfg.Backend.Type, stash["backend"], bc, []string{"type"})
	out.Components["backend"] = obj
	cfg.Backend.Params = encodeParams(obj)
	if ok {
		if _, has := l.reg.Collectors[cfg.Backend.Type]; !has {
			l.ps.add("backend.type", "no collector is registered for backend %q", cfg.Backend.Type)
		}
		if _, has := l.reg.Actuators[cfg.Backend.Type]; !has {
			l.ps.add("backend.type", "no actuator is registered for backend %q", cfg.Backend.Type)
		}
	}
}

func (l *loader) resolveAction(cfg *framework.Config, stash map[string]map[string]any, out *Loaded) {
	if cfg.Action.Type == "" && len(stash["action"]) == 0 {
		return // no action section: baselines bring their own design
	}
	bc := l.buildContext(cfg, "action", cfg.State.Features)
	obj, _ := l.component("action", "action.type", kindAction, cfg.Action.Type, stash["action"], bc, []string{"type"})
	out.Components["action"] = obj
	cfg.Action.Params = encodeParams(obj)
}

func (l *loader) resolveRewards(cfg *framework.Config, stash map[string]map[string]any, out *Loaded) {
	for _, name := range sortedKeys(cfg.Reward.Terms) {
		tc := cfg.Reward.Terms[name]
		path := "reward.terms." + name
		l.checkName(path, name)
		params := stash[path]
		weight := struct {
			Weight float64 `mapstructure:"weight"`
		}{Weight: 1}
		if w, ok := params["weight"]; ok {
			delete(params, "weight")
			if w != nil {
				l.decode(path, map[string]any{"weight": w}, &weight)
			}
		}
		if !isFinite(weight.Weight) {
			l.ps.add(path+".weight", "must be a finite number, got %v", weight.Weight)
		}
		typ, typeKey := tc.Type, path+".type"
		if typ == "" {
			typ, typeKey = name, path
		}
		bc := l.buildContext(cfg, name, cfg.State.Features)
		before := len(l.ps.list)
		obj, _ := l.component(path, typeKey, kindReward, typ, params, bc, []string{"type", "weight"})
		if tc.Type == "" && len(l.ps.list) > before && l.ps.list[before].Key == path && strings.HasPrefix(l.ps.list[before].Msg, "unknown") {
			l.ps.list[before].Msg += "; a term's type defaults to its name: set type: to choose one"
		}
		out.Components[path] = obj
		p := encodeParams(obj)
		if p == nil {
			p = map[string]any{}
		}
		p["weight"] = weight.Weight
		cfg.Reward.Terms[name] = framework.ComponentConfig{Type: typ, Params: p}
		out.RewardTerms = append(out.RewardTerms, RewardTerm{Name: name, Type: typ, Weight: weight.Weight, Config: obj})
		out.Weights[name] = weight.Weight
	}
}

func (l *loader) resolvePolicies(cfg *framework.Config, stash map[string]map[string]any, out *Loaded) {
	if len(cfg.Policies) == 0 {
		l.ps.add("policies", "at least one policy is required (policies: {name: {type: ...}}); registered types: %s", oneOf(framework.Types(l.reg.Policies)))
	}
	for _, name := range sortedKeys(cfg.Policies) {
		pc := cfg.Policies[name]
		path := "policies." + name
		l.checkName(path, name)
		if pc.Deadline < 0 {
			l.ps.add(path+".deadline", "must be ≥ 0 (0 uses fallback.deadline), got %s", formatDuration(pc.Deadline))
		}
		features := cfg.State.Features
		if len(pc.Features) > 0 {
			l.checkFeatures(path+".features", pc.Features)
			features = pc.Features
		}
		bc := l.buildContext(cfg, name, features)
		obj, _ := l.component(path, path+".type", kindPolicy, pc.Type, stash[path], bc, []string{"type", "deadline", "features", "action"})
		out.Components[path] = obj
		pc.Params = encodeParams(obj)
		pc.Raw = l.raw[path]
		if pc.Raw == nil {
			pc.Raw = map[string]any{}
		}
		if pc.Action != nil {
			ap := path + ".action"
			aobj, _ := l.component(ap, ap+".type", kindAction, pc.Action.Type, stash[ap], bc, []string{"type"})
			out.Components[ap] = aobj
			a := *pc.Action
			a.Params = encodeParams(aobj)
			pc.Action = &a
		}
		cfg.Policies[name] = pc
	}
}

func (l *loader) resolveProfiles(cfg *framework.Config, stash map[string]map[string]any, out *Loaded) {
	types := load.Types()
	for _, name := range sortedKeys(cfg.Profiles) {
		pc := cfg.Profiles[name]
		path := "profiles." + name
		l.checkName(path, name)
		l.levelExtra[path] = []string{"type"}
		if pc.Type == "" {
			l.ps.add(path+".type", "required: the profile type, one of: %s", oneOf(types))
			continue
		}
		obj, ok := load.DefaultParams(pc.Type)
		if !ok {
			l.ps.add(path+".type", "unknown profile type %q%s (one of: %s)", pc.Type, suggest(pc.Type, types), oneOf(types))
			continue
		}
		params := stash[path]
		if params == nil {
			params = map[string]any{}
		}
		before := len(l.ps.list)
		params, _ = l.prepare(path, params, reflect.TypeOf(obj), reflect.ValueOf(obj).Elem(), nil).(map[string]any)
		if !l.decode(path, params, obj) || len(l.ps.list) != before {
			continue
		}
		plain := encodeParams(obj)
		prof, err := load.FromConfig(pc.Type, plain, l.baseDir)
		if err != nil {
			// FromConfig wraps its problems as `load profile type "x": <problems>`.
			inner := errors.Unwrap(err)
			if inner == nil {
				inner = err
			}
			for _, e := range flatten(inner) {
				l.ps.addErr(path, e)
			}
			continue
		}
		for _, f := range load.TraceFiles(pc.Type, plain, l.baseDir) {
			l.addFile(path, f)
		}
		cfg.Profiles[name] = framework.ComponentConfig{Type: pc.Type, Params: plain}
		out.Profiles[name] = prof
	}
	for i, name := range cfg.Experiment.Profiles {
		if _, ok := out.Profiles[name]; ok {
			continue
		}
		if _, ok := cfg.Profiles[name]; ok {
			continue // defined, but with problems reported above
		}
		if p, ok := load.Builtin(name); ok {
			out.Profiles[name] = p
			continue
		}
		known := append(load.BuiltinNames(), sortedKeys(cfg.Profiles)...)
		l.ps.add(fmt.Sprintf("experiment.profiles[%d]", i), "unknown profile %q%s (built-in: %s; defined under profiles: %s)",
			name, suggest(name, known), strings.Join(load.BuiltinNames(), ", "), orNone(sortedKeys(cfg.Profiles)))
	}
}

// sectionTypeError reports whether decoding found the section at path to be of the wrong
// type (e.g. `backend: sim` instead of a mapping).
func (l *loader) sectionTypeError(path string) bool {
	for _, p := range l.ps.list {
		if p.Key == path && strings.HasPrefix(p.Msg, "expected ") {
			return true
		}
	}
	return false
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// encodeParams renders a decoded component struct as the plain map its Params carry.
func encodeParams(obj any) map[string]any {
	if obj == nil {
		return nil
	}
	m, _ := encodeValue(reflect.ValueOf(obj)).(map[string]any)
	return m
}

// checkCaseDuplicates reports keys written twice in different case ("Spec" and "spec"):
// viper folds case, so one would silently win. Raw objects keep case and are skipped.
func (l *loader) checkCaseDuplicates() {
	skip := map[string]bool{}
	for _, p := range l.rawPaths {
		skip[p] = true
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			seen := map[string]string{}
			for _, k := range sortedKeys(x) {
				lk := strings.ToLower(k)
				p := joinKey(path, lk)
				if first, dup := seen[lk]; dup {
					l.ps.add(p, "written twice, as %q and %q (keys are case-insensitive)", first, k)
					continue
				}
				seen[lk] = k
				if !skip[p] {
					walk(p, x[k])
				}
			}
		case []any:
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		}
	}
	walk("", l.rawTree)
}

// referencedFiles returns the referenced files sorted by absolute path.
func (l *loader) referencedFiles() []string {
	out := make([]string, 0, len(l.files))
	for f := range l.files {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

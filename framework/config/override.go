package config

import (
	"fmt"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// EnvPrefix starts every environment variable that overrides a config key.
const EnvPrefix = "SCALELAB_"

// override is one --set or environment override.
type override struct {
	key    string // dotted, lowercased key path
	value  any    // overrideString, or a []any / map[string]any parsed from a flow collection
	origin string // "--set key=value" or "environment SCALELAB_X"
}

// parseEnv returns the overrides among env (KEY=value pairs), sorted by variable name so
// that a parent (SCALELAB_EXPERIMENT) applies before its children. A SCALELAB_ variable is
// an override when its name holds "__" or names a whole section; other SCALELAB_
// variables (SCALELAB_PLUGIN_LOG_LEVEL, the plugin handshake cookie) are not config keys
// and are left alone.
func (l *loader) parseEnv(env []string) []override {
	var names []string
	values := map[string]string{}
	for _, kv := range env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		names = append(names, name)
		values[name] = value
	}
	sort.Strings(names)
	var out []override
	for _, name := range names {
		origin := "environment " + name
		segs := strings.Split(strings.ToLower(strings.TrimPrefix(name, EnvPrefix)), "__")
		if len(segs) == 1 && !l.isSection(segs[0]) {
			continue // another part of scalelab's variable (SCALELAB_PLUGIN_LOG_LEVEL)
		}
		if !validSegments(segs) {
			l.ps.add("", "environment variable %s does not name a key: write SCALELAB_ then the key path with __ between levels, e.g. SCALELAB_EXPERIMENT__REPETITIONS", name)
			continue
		}
		key := strings.Join(segs, ".")
		v, err := parseOverrideValue(values[name])
		if err != nil {
			l.ps.add(key, "%v (from %s)", err, origin)
			continue
		}
		out = append(out, override{key: key, value: v, origin: origin})
	}
	return out
}

// parseSets parses --set arguments "key.path=value".
func (l *loader) parseSets(sets []string) []override {
	var out []override
	for _, s := range sets {
		k, value, ok := strings.Cut(s, "=")
		k = strings.TrimSpace(k)
		origin := "--set " + s
		if !ok || k == "" {
			l.ps.add("", "--set %q: expected key.path=value", s)
			continue
		}
		if strings.ContainsAny(k, "[]") {
			l.ps.add(strings.ToLower(k), "list elements cannot be set one by one; set the whole list, e.g. key=[a,b] (from %s)", origin)
			continue
		}
		segs := strings.Split(strings.ToLower(k), ".")
		if !validSegments(segs) {
			l.ps.add("", "--set %q: the key path has an empty level", s)
			continue
		}
		key := strings.Join(segs, ".")
		v, err := parseOverrideValue(value)
		if err != nil {
			l.ps.add(key, "%v (from %s)", err, origin)
			continue
		}
		out = append(out, override{key: key, value: v, origin: origin})
	}
	return out
}

// isSection reports whether key is a top-level section of framework.Config.
func (l *loader) isSection(key string) bool {
	for _, p := range l.frameworkKeyPaths[key] {
		if p == key {
			return true
		}
	}
	return false
}

func validSegments(segs []string) bool {
	for _, s := range segs {
		if strings.TrimSpace(s) == "" {
			return false
		}
	}
	return len(segs) > 0
}

// parseOverrideValue reads an override's text: a YAML flow sequence ("[low, high]") or
// flow mapping ("{type: static, replicas: 2}") when it starts with "[" or "{", otherwise a
// scalar kept as text, which takes the type of the key it sets when decoded.
func parseOverrideValue(s string) (any, error) {
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "[") && !strings.HasPrefix(t, "{") {
		return overrideString(s), nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(t), &doc); err != nil {
		return nil, fmt.Errorf("value %q is not a valid YAML flow collection: %s", s, cleanYAMLError(err))
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, fmt.Errorf("value %q is not a single YAML value", s)
	}
	return nodeValue(doc.Content[0])
}

// nodeValue converts a parsed flow collection, keeping plain scalars as override text
// (typed later by the key they land in); quoted scalars are strings and ~/null is null.
func nodeValue(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, c := range n.Content {
			v, err := nodeValue(c)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := nodeValue(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			out[strings.ToLower(n.Content[i].Value)] = v
		}
		return out, nil
	case yaml.ScalarNode:
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			return n.Value, nil
		}
		if n.Tag == "!!null" {
			return nil, nil
		}
		return overrideString(n.Value), nil
	case yaml.AliasNode:
		return nodeValue(n.Alias)
	}
	return nil, fmt.Errorf("unsupported YAML value")
}

// apply sets each override in tree, creating intermediate mappings as needed.
func (l *loader) apply(tree map[string]any, ovs []override) {
	for _, ov := range ovs {
		segs := strings.Split(ov.key, ".")
		cur := tree
		ok := true
		for i, seg := range segs[:len(segs)-1] {
			next, exists := cur[seg]
			if !exists || next == nil {
				m := map[string]any{}
				cur[seg] = m
				cur = m
				continue
			}
			m, isMap := next.(map[string]any)
			if !isMap {
				l.ps.add(ov.key, "cannot be set: %s holds %s, not a mapping (from %s)", strings.Join(segs[:i+1], "."), describeValue(next), ov.origin)
				ok = false
				break
			}
			cur = m
		}
		if !ok {
			continue
		}
		cur[segs[len(segs)-1]] = ov.value
		l.ps.origins[ov.key] = ov.origin
		ov.value = deepCopy(ov.value) // the tree's copy is edited while decoding
		l.overrides = append(l.overrides, ov)
	}
}

// checkRawOverrides reports overrides that reach into an embedded Kubernetes object: those
// keep the file's camelCase keys and are read from the file alone.
func (l *loader) checkRawOverrides() {
	for _, ov := range l.overrides {
		for _, loc := range l.rawPaths {
			hit := ov.key == loc || strings.HasPrefix(ov.key, loc+".")
			if !hit && strings.HasPrefix(loc, ov.key+".") {
				hit = contains(ov.value, strings.Split(strings.TrimPrefix(loc, ov.key+"."), "."))
			}
			if hit {
				l.ps.add(ov.key, "cannot be overridden: %s is an embedded Kubernetes object read from the file with its camelCase keys; edit the file instead", loc)
			}
		}
	}
}

// contains reports whether v holds the key path segs.
func contains(v any, segs []string) bool {
	for _, s := range segs {
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if v, ok = m[s]; !ok {
			return false
		}
	}
	return true
}

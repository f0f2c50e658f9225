package config

import (
	"github.com/scalelab/scalelab/framework"
)

// Component kinds as they appear in messages and the reference.
const (
	kindBackend = "backend"
	kindAction  = "action design"
	kindReward  = "reward term"
	kindPolicy  = "policy"
)

// componentInfo is the type-independent part of a framework.Factory.
type componentInfo struct {
	kind     string
	typ      string
	doc      string
	defaults func() any
	rawKeys  []string
	files    func(baseDir string, cfg any) []string
	check    func(bc framework.BuildContext, cfg any) []error
}

func infoOf[T any](kind string, f framework.Factory[T]) componentInfo {
	return componentInfo{
		kind:     kind,
		typ:      f.Type,
		doc:      f.Doc,
		defaults: f.Defaults,
		rawKeys:  f.RawKeys,
		files:    f.Files,
		check:    f.Check,
	}
}

// table returns the registered types of one kind, sorted, and a lookup.
func table(reg *framework.Registry, kind string) ([]string, func(string) (componentInfo, bool)) {
	switch kind {
	case kindBackend:
		return tableOf(kind, reg.Backends)
	case kindAction:
		return tableOf(kind, reg.Actions)
	case kindReward:
		return tableOf(kind, reg.Rewards)
	default:
		return tableOf(kind, reg.Policies)
	}
}

func tableOf[T any](kind string, m map[string]framework.Factory[T]) ([]string, func(string) (componentInfo, bool)) {
	return framework.Types(m), func(typ string) (componentInfo, bool) {
		f, ok := m[typ]
		if !ok {
			return componentInfo{}, false
		}
		return infoOf(kind, f), true
	}
}

// components lists every registered configurable component: backends, action designs,
// reward terms and policies, each sorted by type.
func components(reg *framework.Registry) []componentInfo {
	var out []componentInfo
	for _, kind := range []string{kindBackend, kindAction, kindReward, kindPolicy} {
		types, get := table(reg, kind)
		for _, t := range types {
			c, _ := get(t)
			out = append(out, c)
		}
	}
	return out
}

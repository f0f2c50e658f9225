package wasm

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/framework/actions"
	"github.com/scalelab/scalelab/framework/config"
	"github.com/scalelab/scalelab/framework/frameworktest"
)

// configRegistry registers the wasm policy, the action designs and a fake backend.
func configRegistry() *framework.Registry {
	r := framework.NewRegistry()
	Register(r)
	actions.Register(r)
	r.RegisterBackend(framework.Factory[framework.Backend]{Type: "fake", Doc: "test backend",
		New: func(framework.BuildContext, any) (framework.Backend, error) { return &frameworktest.Backend{}, nil }})
	r.RegisterCollector(framework.Factory[framework.Collector]{Type: "fake", Doc: "test collector",
		New: func(bc framework.BuildContext, _ any) (framework.Collector, error) {
			return &frameworktest.Collector{Backend: bc.Backend.(*frameworktest.Backend)}, nil
		}})
	r.RegisterActuator(framework.Factory[framework.Actuator]{Type: "fake", Doc: "test actuator",
		New: func(bc framework.BuildContext, _ any) (framework.Actuator, error) {
			return &frameworktest.Actuator{Backend: bc.Backend.(*frameworktest.Backend)}, nil
		}})
	return r
}

func TestDefaultTagsMatchDefaults(t *testing.T) {
	if errs := config.CheckDefaults(configRegistry()); len(errs) > 0 {
		t.Fatalf("default tags disagree with Defaults(): %v", errs)
	}
}

// TestConfigEntry loads a config whose policy entry is `type: wasm` through the config
// loader and builds the policy from it: the keys decode (durations, params), the module's
// digest enters the config hash, and the params reach the guest.
func TestConfigEntry(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile("testdata/config/wasm-in-place-of-hpa.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "experiment.yaml")
	os.WriteFile(cfgPath, src, 0o644)
	module := buildGuest(t, "../../sdk/examples/wasm-threshold")
	bin, err := os.ReadFile(module)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "threshold.wasm"), bin, 0o644)

	reg := configRegistry()
	l, err := config.LoadWithOptions(cfgPath, reg, config.Options{Env: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	c, ok := l.Components["policies.wasm-threshold"].(*Config)
	if !ok {
		t.Fatalf("component config %T", l.Components["policies.wasm-threshold"])
	}
	if c.Module != "threshold.wasm" || c.CallDeadline != 2*time.Second || c.MemoryLimitMB != 64 || !c.Interruptible || c.MaxFailures != 5 {
		t.Fatalf("decoded %+v", c)
	}
	if l.Config.Policies["wasm-threshold"].Deadline != 500*time.Millisecond {
		t.Fatalf("the framework's deadline key: %v", l.Config.Policies["wasm-threshold"].Deadline)
	}
	// The module's digest is part of the hash: another valid module there changes it.
	os.WriteFile(filepath.Join(dir, "threshold.wasm"), baseModule().encode(), 0o644)
	l2, err := config.LoadWithOptions(cfgPath, reg, config.Options{Env: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if l2.Hash == l.Hash {
		t.Fatal("a changed module left the config hash unchanged")
	}
	// A file that is not WebAssembly is reported by validation, naming the key.
	os.WriteFile(filepath.Join(dir, "threshold.wasm"), []byte("#!/bin/sh\n"), 0o644)
	if _, err := config.LoadWithOptions(cfgPath, reg, config.Options{Env: []string{}}); err == nil ||
		!strings.Contains(err.Error(), "not a WebAssembly file") || !strings.Contains(err.Error(), "policies.wasm-threshold") {
		t.Fatalf("validation of a shell script as module: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "threshold.wasm"), bin, 0o644)

	// Build it as the runner does and act: p95 = 50 > upper 40 → index 2 (+1 replica).
	c.CacheDir = ""
	f := reg.Policies[TypeName]
	pol, err := f.New(framework.BuildContext{Name: "wasm-threshold", BaseDir: l.BaseDir, Seed: 7, Logger: quietLogger}, c)
	if err != nil {
		t.Fatal(err)
	}
	defer pol.(*Policy).Close()
	feats := []framework.FeatureSpec{{Name: "request_rate"}, {Name: "p95_latency_ms"}}
	if err := pol.(framework.Initializer).Init(framework.Specs{Features: feats, Action: framework.ActionSpace{Kind: framework.Discrete, N: 3}, ActionDesign: "replica_delta"}); err != nil {
		t.Fatal(err)
	}
	a, err := pol.Act(context.Background(), obsOf(10, 50))
	if err != nil || a.Values[0] != 2 {
		t.Fatalf("act: %v %v, want [2]", a.Values, err)
	}
	if doc := config.Document(reg); !strings.Contains(doc, "memory_limit_mb") || !strings.Contains(doc, "call_deadline") {
		t.Fatal("the configuration reference lacks the wasm keys")
	}
}

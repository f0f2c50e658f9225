package wasm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scalelab/scalelab/framework"
)

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(c *Config)
		want []string // substrings, one per expected error
	}{
		{"defaults with a module", func(c *Config) {}, nil},
		{"no module", func(c *Config) { c.Module = "" }, []string{"module: required"}},
		{"zero memory", func(c *Config) { c.MemoryLimitMB = 0 }, []string{"memory_limit_mb: must be in [1, 4096], got 0"}},
		{"too much memory", func(c *Config) { c.MemoryLimitMB = 5000 }, []string{"memory_limit_mb: must be in [1, 4096], got 5000"}},
		{"negative deadline", func(c *Config) { c.CallDeadline = -time.Second }, []string{"call_deadline: must be ≥ 0, got -1s"}},
		{"negative failures", func(c *Config) { c.MaxFailures = -1 }, []string{"max_failures: must be ≥ 0, got -1"}},
		{"all at once", func(c *Config) { c.Module, c.MemoryLimitMB, c.MaxFailures = "", -1, -2 },
			[]string{"module:", "memory_limit_mb:", "max_failures:"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			c.Module = "p.wasm"
			tc.edit(c)
			errs := c.Validate()
			if len(errs) != len(tc.want) {
				t.Fatalf("errors %v, want %d", errs, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(errs[i].Error(), w) {
					t.Fatalf("error %d = %q, want %q", i, errs[i], w)
				}
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c := Defaults()
	if c.MemoryLimitMB != 128 || c.CallDeadline != time.Second || c.MaxFailures != 5 || c.CacheDir != "" || c.Module != "" || !c.Interruptible {
		t.Fatalf("defaults %+v", c)
	}
	if got := c.memoryLimitPages(); got != 128*16 {
		t.Fatalf("128 MiB = %d pages, want 2048", got)
	}
}

func TestFactory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "p.wasm"), baseModule().encode(), 0o644); err != nil {
		t.Fatal(err)
	}
	r := framework.NewRegistry()
	Register(r)
	f, ok := r.Policies[TypeName]
	if !ok {
		t.Fatal("wasm not registered")
	}
	cfg := f.Defaults().(*Config)
	cfg.Module = "p.wasm"
	cfg.CacheDir = "off"
	if got := f.Files(dir, cfg); len(got) != 1 || got[0] != filepath.Join(dir, "p.wasm") {
		t.Fatalf("Files = %v, want the module resolved against the base directory", got)
	}
	bc := framework.BuildContext{Name: "mine", BaseDir: dir, Seed: 3, Logger: quietLogger}
	if errs := f.Check(bc, cfg); len(errs) != 0 {
		t.Fatalf("Check: %v", errs)
	}
	pol, err := f.New(bc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pol.(*Policy).Close()
	if err := pol.(framework.Initializer).Init(discreteSpecs(3, "x")); err != nil {
		t.Fatal(err)
	}
	if a, err := pol.Act(context.Background(), obsOf(0)); err != nil || a.Values[0] != 1 {
		t.Fatalf("act: %v %v", a, err)
	}

	missing := *cfg
	missing.Module = "nope.wasm"
	errs := f.Check(bc, &missing)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "nope.wasm") || !errors.Is(errs[0], os.ErrNotExist) {
		t.Fatalf("Check of a missing module: %v", errs)
	}
	if _, err := f.New(bc, &missing); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("New of a missing module: %v", err)
	}
}

func TestModulesAreKeyedByContent(t *testing.T) {
	// The same path with new contents is a new module; the same contents under another
	// path share the compiled module.
	path := filepath.Join(t.TempDir(), "p.wasm")
	act := func(p string) (float64, *Module) {
		t.Helper()
		pol := newPolicy(t, testConfig(p), discreteSpecs(3, "x"), 1)
		a, err := pol.Act(context.Background(), obsOf(0))
		if err != nil {
			t.Fatal(err)
		}
		return a.Values[0], pol.Module()
	}
	os.WriteFile(path, baseModule().with(actConst(1)).encode(), 0o644)
	v1, m1 := act(path)
	os.WriteFile(path, baseModule().with(actConst(2)).encode(), 0o644)
	v2, m2 := act(path)
	if v1 != 1 || v2 != 2 || m1 == m2 || m1.Digest == m2.Digest {
		t.Fatalf("rewritten module: actions %v then %v (want 1 then 2), modules shared: %v", v1, v2, m1 == m2)
	}
	other := filepath.Join(t.TempDir(), "copy.wasm")
	os.WriteFile(other, baseModule().with(actConst(2)).encode(), 0o644)
	if _, m3 := act(other); m3 != m2 {
		t.Fatal("identical contents under another path were compiled again")
	}
}

func TestOnDiskCompilationCache(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(writeModule(t, baseModule().with(actConst(5)).encode()))
	cfg.CacheDir = dir
	newPolicy(t, cfg, discreteSpecs(3, "x"), 1)
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	if n == 0 {
		t.Fatalf("cache_dir %s holds no compiled code", dir)
	}
}

func TestUninterruptibleRuns(t *testing.T) {
	// A module compiled without termination checks still acts (in its own runtime).
	cfg := testConfig(writeModule(t, baseModule().with(actConst(2)).encode()))
	cfg.Interruptible = false
	p := newPolicy(t, cfg, discreteSpecs(3, "x"), 1)
	if a, err := p.Act(context.Background(), obsOf(0)); err != nil || a.Values[0] != 2 {
		t.Fatalf("act: %v %v", a, err)
	}
	if p.Module().eng.key.interruptible {
		t.Fatal("an uninterruptible policy shares the interruptible runtime")
	}
}

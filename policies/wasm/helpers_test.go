package wasm

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/scalelab/scalelab/framework"
	"github.com/scalelab/scalelab/policies/wasm/gobuild"
)

// quietLogger discards the host's failure logs in tests.
var quietLogger = slog.New(slog.DiscardHandler)

// writeModule writes bin into a temporary file and returns its path.
func writeModule(t testing.TB, bin []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "guest.wasm")
	if err := os.WriteFile(p, bin, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// testConfig is the config tests start from: the in-memory compilation cache (the on-disk
// cache is tested on its own), a small memory limit and a short call deadline.
func testConfig(module string) Config {
	c := *Defaults()
	c.Module = module
	c.CacheDir = "off"
	c.MemoryLimitMB = 2
	c.CallDeadline = 2 * time.Second
	return c
}

// discreteSpecs are specs with the named features and a discrete action space of n.
func discreteSpecs(n int, features ...string) framework.Specs {
	fs := make([]framework.FeatureSpec, len(features))
	for i, f := range features {
		fs[i] = framework.FeatureSpec{Name: f, Unit: "u", Low: 0, High: 1}
	}
	return framework.Specs{
		Features:     fs,
		Action:       framework.ActionSpace{Kind: framework.Discrete, N: n, Names: []string{"a"}},
		ActionDesign: "replica_delta",
		Interval:     15 * time.Second,
	}
}

// obsOf is a fully valid observation.
func obsOf(vals ...float64) framework.Observation {
	valid := make([]bool, len(vals))
	for i := range valid {
		valid[i] = true
	}
	return framework.Observation{Values: vals, Valid: valid}
}

// newPolicy builds and initialises a policy, failing the test on error.
func newPolicy(t testing.TB, cfg Config, specs framework.Specs, seed uint64) *Policy {
	t.Helper()
	p, err := New(context.Background(), cfg, Options{Name: t.Name(), Seed: seed, Logger: quietLogger})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.Init(specs); err != nil {
		t.Fatalf("Init: %v", err)
	}
	return p
}

// sameBits reports whether two float slices are bit-identical.
func sameBits(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return true
}

// guestBuilds memoises built Go guests within the test process.
var guestBuilds sync.Map // dir → *guestBuild

type guestBuild struct {
	once sync.Once
	path string
	err  error
}

// buildGuest builds the Go guest in dir (relative to this package) through the content-keyed
// build cache and returns the module's path. It skips the test when no Go toolchain exists.
func buildGuest(t testing.TB, dir string) string {
	t.Helper()
	v, _ := guestBuilds.LoadOrStore(dir, &guestBuild{})
	b := v.(*guestBuild)
	b.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		b.path, b.err = gobuild.Cached(ctx, dir, gobuild.DefaultCacheDir())
	})
	if errors.Is(b.err, gobuild.ErrNoToolchain) {
		t.Skipf("cannot build Go guests: %v", b.err)
	}
	if b.err != nil {
		t.Fatalf("build guest %s: %v", dir, b.err)
	}
	return b.path
}

package wasm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/scalelab/scalelab/framework"
)

// A policy module is loaded, initialised with the experiment's specs and asked for
// decisions; a misbehaving module's failure names what went wrong.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "wasm-example")
	defer os.RemoveAll(dir)
	// A hand-assembled module whose act always answers 1 (see docs/policy-abi.md for the
	// same guest in WebAssembly text).
	os.WriteFile(filepath.Join(dir, "hold.wasm"), baseModule().encode(), 0o644)

	cfg := Defaults()
	cfg.Module, cfg.CacheDir = "hold.wasm", "off"
	p, err := New(context.Background(), *cfg, Options{Name: "hold", BaseDir: dir, Seed: 1, Logger: quietLogger})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	specs := framework.Specs{
		Features: []framework.FeatureSpec{{Name: "p95_latency_ms"}},
		Action:   framework.ActionSpace{Kind: framework.Discrete, N: 3}, ActionDesign: "replica_delta",
	}
	if err := p.Init(specs); err != nil {
		fmt.Println(err)
		return
	}
	a, err := p.Act(context.Background(), framework.Observation{Values: []float64{42}, Valid: []bool{true}})
	fmt.Println(a.Values, err)

	os.WriteFile(filepath.Join(dir, "bad.wasm"), baseModule().without(ExportAct).encode(), 0o644)
	cfg.Module = "bad.wasm"
	_, err = New(context.Background(), *cfg, Options{Name: "bad", BaseDir: dir, Logger: quietLogger})
	fmt.Println(errors.Is(err, ErrMissingExport))
	// Output:
	// [1] <nil>
	// true
}

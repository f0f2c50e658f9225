package wasm

import (
	"context"
	"errors"
	"fmt"

	"github.com/scalelab/scalelab/framework"
)

// TypeName is the policy type's config name.
const TypeName = "wasm"

// Register adds the `wasm` policy factory to r.
//
//	policies:
//	  my-policy:
//	    type: wasm
//	    module: policies/threshold.wasm   # relative to the config file
//	    memory_limit_mb: 128
//	    call_deadline: 1s
//	    max_failures: 5
func Register(r *framework.Registry) {
	r.RegisterPolicy(framework.Factory[framework.Policy]{
		Type:     TypeName,
		Doc:      "a WebAssembly policy module (ABI v1, docs/policy-abi.md) run sandboxed in wazero",
		Defaults: func() any { return Defaults() },
		New: func(bc framework.BuildContext, cfg any) (framework.Policy, error) {
			c, err := configOf(cfg)
			if err != nil {
				return nil, err
			}
			return New(context.Background(), *c, Options{Name: bc.Name, BaseDir: bc.BaseDir, Seed: bc.Seed, Logger: bc.Logger})
		},
		Files: func(baseDir string, cfg any) []string {
			c, err := configOf(cfg)
			if err != nil || c.Module == "" {
				return nil
			}
			return []string{c.ModulePath(baseDir)}
		},
		Check: func(bc framework.BuildContext, cfg any) []error {
			c, err := configOf(cfg)
			if err != nil {
				return []error{err}
			}
			if c.Module == "" {
				return nil // Validate reports it
			}
			if _, err := Check(context.Background(), *c, bc.BaseDir); err != nil {
				return []error{fmt.Errorf("module: %w", err)}
			}
			return nil
		},
	})
}

// configOf accepts the decoded config as *Config or Config (nil means the defaults).
func configOf(cfg any) (*Config, error) {
	switch c := cfg.(type) {
	case *Config:
		if c == nil {
			return Defaults(), nil
		}
		return c, nil
	case Config:
		return &c, nil
	case nil:
		return Defaults(), nil
	default:
		return nil, fmt.Errorf("wasm policy: config of type %T, want *wasm.Config", cfg)
	}
}

// Check loads and compiles the configured module and checks it against the ABI's static
// rules (exports and their signatures, memory, imports) without instantiating it. The
// compiled module is kept for policies built later in the process.
func Check(ctx context.Context, cfg Config, baseDir string) (*Module, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	m, err := loadModule(ctx, cfg.ModulePath(baseDir), cfg.engineKey())
	if err != nil {
		return nil, err
	}
	if err := m.checkLimit(cfg.memoryLimitPages()); err != nil {
		return nil, err
	}
	return m, nil
}

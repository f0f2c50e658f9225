package wasm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Config is the `type: wasm` policy entry's keys.
type Config struct {
	// Module is the path of the .wasm file, relative to the config file's directory.
	Module string `mapstructure:"module" doc:"path of the policy module (.wasm, ABI v1: docs/policy-abi.md), relative to the config file" default:""`
	// MemoryLimitMB bounds the guest's linear memory.
	MemoryLimitMB int `mapstructure:"memory_limit_mb" doc:"largest linear memory the guest may grow to, in MiB (16 pages of 64 KiB each); growing past it fails as out of memory" default:"128"`
	// CallDeadline bounds every call into the guest.
	CallDeadline time.Duration `mapstructure:"call_deadline" doc:"wall-clock limit of each call into the guest (init, act, observe, reset; instantiation when the policy is built gets at least 10s); act is also bound by the policy's deadline key, whichever is shorter; 0 = no limit of the host's own" default:"1s"`
	// CacheDir holds wazero's compilation cache.
	CacheDir string `mapstructure:"cache_dir" doc:"directory of wazero's on-disk compilation cache; empty = <user cache dir>/scalelab/wazero; off = compile in memory only" default:""`
	// MaxFailures stops re-instantiation after this many traps, exits or overruns.
	MaxFailures int `mapstructure:"max_failures" doc:"traps, exits, out-of-memory and deadline overruns after which the host stops re-instantiating the guest and every call fails; 0 = never stop" default:"5"`
	// Interruptible makes deadlines stop a running guest.
	Interruptible bool `mapstructure:"interruptible" doc:"add deadline checks to the module before compiling it, so that a deadline or closing the policy stops a running guest (docs/policy-abi.md, Deadlines); false runs the module unchanged, somewhat faster (10–20% for a Go guest) but a guest that never returns cannot be stopped: use false only for modules you trust" default:"true"`
	// Params are passed to the guest verbatim.
	Params map[string]any `mapstructure:"params" doc:"free-form settings handed to the guest as the spec's params object (e.g. thresholds, gains); empty when absent"`
}

// Defaults returns the defaults: 128 MiB of memory, a 1 s call deadline, the user cache
// directory, 5 failures, interruptible.
func Defaults() *Config {
	return &Config{MemoryLimitMB: 128, CallDeadline: time.Second, MaxFailures: 5, Interruptible: true}
}

// errNoModule is Validate's error for a missing module key.
var errNoModule = errors.New("module: required: the path of the policy's .wasm file")

// maxMemoryLimitMB is the WebAssembly 1.0 (32-bit) address space: 65536 pages of 64 KiB.
const maxMemoryLimitMB = 4096

// Validate reports every out-of-range key.
func (c *Config) Validate() []error {
	var errs []error
	if c.Module == "" {
		errs = append(errs, errNoModule)
	}
	if c.MemoryLimitMB < 1 || c.MemoryLimitMB > maxMemoryLimitMB {
		errs = append(errs, fmt.Errorf("memory_limit_mb: must be in [1, %d], got %d", maxMemoryLimitMB, c.MemoryLimitMB))
	}
	if c.CallDeadline < 0 {
		errs = append(errs, fmt.Errorf("call_deadline: must be ≥ 0, got %v", c.CallDeadline))
	}
	if c.MaxFailures < 0 {
		errs = append(errs, fmt.Errorf("max_failures: must be ≥ 0, got %d", c.MaxFailures))
	}
	return errs
}

// memoryLimitPages converts MemoryLimitMB to 64 KiB pages.
func (c *Config) memoryLimitPages() uint32 { return uint32(c.MemoryLimitMB) * 16 }

// ModulePath resolves Module against the config file's directory.
func (c *Config) ModulePath(baseDir string) string {
	if filepath.IsAbs(c.Module) || baseDir == "" {
		return filepath.Clean(c.Module)
	}
	return filepath.Join(baseDir, c.Module)
}

// cacheOff is the cache_dir value that disables the on-disk cache.
const cacheOff = "off"

// engineKey is the shared runtime the config selects.
func (c *Config) engineKey() engineKey {
	return engineKey{cacheDir: c.resolveCacheDir(), interruptible: c.Interruptible}
}

// resolveCacheDir returns the compilation cache directory ("" = in memory only).
func (c *Config) resolveCacheDir() string {
	switch c.CacheDir {
	case cacheOff:
		return ""
	case "":
		return DefaultCacheDir()
	default:
		return c.CacheDir
	}
}

// DefaultCacheDir is <user cache dir>/scalelab/wazero, or "" (in memory only) when the
// user has no cache directory.
func DefaultCacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "scalelab", "wazero")
}

// Package wasm is the host of scalelab's WebAssembly policies: the `type: wasm` policy runs
// a policy module that implements ABI v1 (docs/policy-abi.md) in a wazero sandbox, so a
// policy written in any language that compiles to WebAssembly — and shipped as one .wasm
// file — is interchangeable in config with the native HPA, PPO and baselines.
//
//	policies:
//	  my-policy:
//	    type: wasm
//	    module: policies/threshold.wasm   # relative to the config file
//	    params: {feature: p95_latency_ms, upper: 40, lower: 15}
//
// # Sandbox
//
// A guest may import WASI (wasi_snapshot_preview1; Go and Rust guests need it) and nothing
// else. It gets no arguments, no environment, no preopened directories and no sockets;
// stdin is empty, stdout is discarded and the first lines of stderr of a failing call are
// quoted in the error. random_get is a ChaCha8 stream keyed by the run seed, and the
// clocks are deterministic (wall time from framework.SimEpoch and monotonic time from 0,
// each advancing 1 ms per reading; sleeps return at once), so a run is reproducible from
// its seed. Linear memory is capped at memory_limit_mb by a per-instance allocator, which
// also lets the host tell an out-of-memory death from other traps. Every call has a
// wall-clock deadline — call_deadline, and for act also the policy's `deadline` carried by
// the context — which stops even a guest spinning in a loop: the host rewrites an
// interruptible module before compiling it so that it charges an instruction budget at
// every function entry and loop header and calls back into the host when the budget is
// spent (meter.go; docs/policy-abi.md, Deadlines). No context, timer or goroutine is
// created per call.
//
// # Failures
//
// Every error wraps one of the sentinel errors (ErrNotWasm, ErrMissingExport,
// ErrABIVersion, ErrBadModule, ErrTrap, ErrExit, ErrDeadline, ErrOutOfMemory,
// ErrOutputLength, ErrNonFinite, ErrGuest, ErrDisabled) and names the export and the
// numbers involved. Act returns failures as errors; the runner's fallback acts instead and
// counts them. A trap, exit, deadline overrun or out-of-memory discards the instance and
// the next call instantiates a fresh one; after max_failures of them the policy is
// disabled. Static problems (not WebAssembly, a missing export, a wrong signature, an ABI
// version mismatch, foreign imports) are reported when the policy is built, and by
// `scalelab validate` through the factory's Check.
//
// # Cost
//
// Compiling a module happens once per file digest per process, through wazero's on-disk
// compilation cache (cache_dir): seconds for a Go guest the first time, a fraction of that
// from the cache. Each policy instance (one per run) instantiates the shared compiled
// module in a few milliseconds. A decision costs the guest's own work plus a few hundred
// nanoseconds of host overhead; see BenchmarkAct16, the export package's
// BenchmarkActMLP64 and docs/performance.md. The deadline checks cost a Go guest 10–20 %
// of its time (Go's WebAssembly code routes every jump through its function's dispatch
// loop, a loop header); wazero's own WithCloseOnContextDone, used before, left
// native code for Go at every loop iteration and made Go guests several times slower.
// `interruptible: false` runs a module unchanged and cannot stop it: only for trusted
// modules.
//
// The subpackage gobuild builds Go guests with the Go toolchain (tests and export), and
// export turns a PPO checkpoint into a module (`scalelab export wasm`).
package wasm

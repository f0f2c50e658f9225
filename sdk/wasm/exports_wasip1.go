//go:build wasip1

package wasm

import "unsafe"

// This file holds the ABI v1 exports (docs/policy-abi.md). Pointers are offsets into the
// module's linear memory; the host passes them as i32 values.

// blocks keeps the memory handed out by scalelab_alloc reachable: the Go garbage collector
// cannot see the host's references. Go's collector never moves objects, so the addresses
// stay valid while a block is in the map.
var blocks = map[unsafe.Pointer][]uint64{}

// abiVersion is the version marker.
//
//go:wasmexport scalelab_abi_version
func abiVersion() int32 { return ABIVersion }

// alloc returns size bytes of zeroed, 8-byte aligned guest memory owned by the host until
// it passes the block back (see docs/policy-abi.md, memory ownership), or 0 for size ≤ 0.
//
//go:wasmexport scalelab_alloc
func alloc(size int32) unsafe.Pointer {
	if size <= 0 {
		return nil
	}
	b := make([]uint64, (int(size)+7)/8)
	p := unsafe.Pointer(unsafe.SliceData(b))
	blocks[p] = b
	return p
}

// initPolicy decodes the spec at ptr and calls the policy's Init. The spec block belongs to
// the guest once the call returns; the SDK releases it.
//
//go:wasmexport scalelab_init
func initPolicy(ptr *byte, size int32) int32 {
	var data []byte
	if ptr != nil && size > 0 {
		data = unsafe.Slice(ptr, size)
	}
	st := current().init(data)
	delete(blocks, unsafe.Pointer(ptr))
	return st
}

// act reads the observation and its validity flags and writes the action, returning the
// number of values written or a negative status.
//
//go:wasmexport scalelab_act
func act(obs *float64, valid *bool, n int32, action *float64, m int32) int32 {
	if n < 0 || m < 0 {
		return current().fail(errNegativeLength)
	}
	return current().act(unsafe.Slice(obs, n), unsafe.Slice(valid, n), unsafe.Slice(action, m))
}

// lastError returns the last error message as (length << 32) | pointer, or 0 when there
// is none. The message stays valid until the next call into the module.
//
//go:wasmexport scalelab_error
func lastError() uint64 {
	e := current().lastErr
	if len(e) == 0 {
		return 0
	}
	return uint64(len(e))<<32 | uint64(uintptr(unsafe.Pointer(unsafe.SliceData(e))))
}

// observe forwards the step's reward to an Observer.
//
//go:wasmexport scalelab_observe
func observe(reward float64, done int32) int32 { return current().observe(reward, done != 0) }

// reset forwards an episode start to a Resetter.
//
//go:wasmexport scalelab_reset
func reset() int32 { return current().reset() }

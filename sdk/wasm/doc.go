// Package wasm is the Go guest SDK for scalelab's WebAssembly policy ABI v1
// (docs/policy-abi.md): it turns a small Go type into a sandboxed policy module that any
// scalelab host runs with `type: wasm`.
//
// A policy author implements [Policy] (and optionally [Observer] and [Resetter]) and
// registers one value from an init function of package main:
//
//	package main
//
//	import sdk "github.com/scalelab/scalelab/sdk/wasm"
//
//	type hold struct{ idx int }
//
//	func (h *hold) Init(s sdk.Spec) error {
//		if s.Action.Kind != sdk.KindDiscrete {
//			return sdk.Unsupported("only discrete action spaces")
//		}
//		h.idx = s.Action.N / 2
//		return nil
//	}
//
//	func (h *hold) Act(obs []float64, valid []bool, action []float64) error {
//		action[0] = float64(h.idx)
//		return nil
//	}
//
//	func init() { sdk.Register(&hold{}) }
//
//	func main() {}
//
// and builds it as a WASI reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o policy.wasm .
//
// The SDK provides every export of the ABI with //go:wasmexport: the version marker, the
// allocator, init (the spec arrives as JSON and is decoded into [Spec]), act over the
// host's observation, validity and action buffers without copying, the error channel,
// and observe/reset when the policy implements them. An error returned by a method, or a
// panic inside one, becomes a negative status and its message is what the host reports;
// errors wrapping [ErrInvalidArgument] or [ErrUnsupported] map to their own status codes.
//
// Register must be called from an init function (or a package-level variable
// initialiser): a reactor module runs package initialisation when the host calls
// _initialize, but never calls main.
//
// The package imports nothing of scalelab (only the standard library), so third parties
// can depend on it alone. Everything except the export shims (exports_wasip1.go) compiles
// on every platform, so a policy's logic can be unit-tested natively with go test.
package wasm

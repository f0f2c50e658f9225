// Package plugin is the Go SDK for scalelab's out-of-process policies: it turns a small Go
// type into a policy plugin, a separate executable that any scalelab host runs with
// `type: plugin` and talks to over gRPC with hashicorp/go-plugin (Nomad Autoscaler,
// Terraform and Vault run their plugins the same way). A plugin may hold large models, keep
// state across episodes, use native libraries or wrap an existing service; a crash in it
// cannot take the host down.
//
// A policy author implements [Policy] — the same small interface as the WASM guest SDK
// (sdk/wasm) — optionally [Observer] and [Resetter], and calls [Serve] from main:
//
//	package main
//
//	import sdk "github.com/scalelab/scalelab/sdk/plugin"
//
//	type hold struct{ idx float64 }
//
//	func (h *hold) Init(s sdk.Spec) error {
//		if s.Action.Kind != sdk.KindDiscrete {
//			return sdk.Unsupported("only discrete action spaces")
//		}
//		h.idx = float64(s.Action.N / 2)
//		return nil
//	}
//
//	func (h *hold) Act(obs []float64, valid []bool, action []float64) error {
//		action[0] = h.idx
//		return nil
//	}
//
//	func main() { sdk.Serve(&hold{}) }
//
// Build it with go build and name the binary in the experiment config:
//
//	policies:
//	  my-agent: {type: plugin, command: ./bin/my-agent}
//
// The binary is not meant to be run by hand: without the host's handshake it prints a notice
// and exits. Write logs with [Logger] (or to os.Stderr): they reach the host's structured
// log. Standard output is reserved for the go-plugin handshake line until Serve starts; later
// writes to os.Stdout are forwarded to the host's log too.
//
// The wire contract is the versioned gRPC service in sdk/proto/policy/v1 (policy.proto); the
// handshake is [Handshake]. docs/policy-abi.md describes both precisely, so that a plugin can
// be written in any language with gRPC support. Error semantics: an error returned by a
// method fails that call (the host's fallback acts for that decision); wrap
// [ErrInvalidArgument] or [ErrUnsupported] to say why. A panic inside a method is recovered
// and reported as an aborted call, which makes the host restart the plugin with fresh state.
//
// The package imports nothing of scalelab but the wire contract.
package plugin

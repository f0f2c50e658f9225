// Command wasm-mlp is an example WASM policy (ABI v1): a small multilayer perceptron,
// evaluated by sdk/wasm/mlp, whose weights (model.json) are embedded in the module at
// build time. The network is set by hand so that its behaviour can be read off the
// weights: one hidden unit measures load pressure (p95 latency, queue length and CPU
// utilisation above their nominal values), the other slack; the logits of the
// replica_delta actions [down, hold, up] are [2·slack, 0.5, 2·pressure − 0.5]. A model
// exported from a trained PPO checkpoint (`scalelab export wasm`) is built the same way.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o mlp.wasm .
//
//	policies:
//	  wasm-mlp:
//	    type: wasm
//	    module: mlp.wasm
package main

import (
	_ "embed"

	sdk "github.com/scalelab/scalelab/sdk/wasm"
	"github.com/scalelab/scalelab/sdk/wasm/mlp"
)

//go:embed model.json
var model []byte

func init() { sdk.Register(mlp.MustParse(model)) }

func main() {}

//go:build !wasip1

package wasm

import "embed"

// Sources holds this package's and sdk/wasm/mlp's Go files (tests included; skip files
// ending in _test.go). `scalelab export wasm` writes them into a temporary module next to a
// generated main package and builds a self-contained policy module from them, with no
// network access and no scalelab source checkout. It is not compiled into guests.
//
//go:embed *.go mlp/*.go
var Sources embed.FS

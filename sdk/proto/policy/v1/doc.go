// Package policyv1 is the generated Go code of the scalelab out-of-process policy contract,
// version 1 (policy.proto in this directory): the gRPC service Policy (Init, Act, Observe,
// Reset, Close) and its messages.
//
// Plugin authors in Go use package sdk/plugin, which serves this service for them; the host
// is package policies/plugin. Authors in other languages generate their stubs from
// policy.proto and follow the handshake in docs/policy-abi.md.
//
// The .pb.go files are generated and committed; regenerate them with
// sdk/proto/generate.sh (pinned protoc-gen-go and protoc-gen-go-grpc versions).
package policyv1

//go:generate bash ../../generate.sh

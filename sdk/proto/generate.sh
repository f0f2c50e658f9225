#!/usr/bin/env bash
# Regenerates the Go code of the scalelab plugin wire contract (sdk/proto/policy/v1) from
# policy.proto. The generated files are committed; tests never need protoc.
#
#   sdk/proto/generate.sh            # or: go generate ./sdk/proto/...
#
# Needs protoc (Debian: apt-get install protobuf-compiler) and a Go toolchain; the two Go
# plugins are installed at the pinned versions below into a private directory, so what is on
# PATH does not matter. The protoc version is written into the generated headers: with
# another protoc than PROTOC_VERSION only that header line differs (the script warns).
set -euo pipefail

PROTOC_GEN_GO_VERSION=v1.36.12      # google.golang.org/protobuf/cmd/protoc-gen-go
PROTOC_GEN_GO_GRPC_VERSION=v1.6.2   # google.golang.org/grpc/cmd/protoc-gen-go-grpc
PROTOC_VERSION=3.21.12              # Debian bookworm's protobuf-compiler

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PATH="$PATH:/usr/local/go/bin"

if ! command -v protoc >/dev/null; then
	echo "generate.sh: protoc not found; install it (Debian: apt-get install protobuf-compiler)" >&2
	exit 1
fi
have="$(protoc --version | awk '{print $2}')"
if [[ "$have" != "$PROTOC_VERSION" ]]; then
	echo "generate.sh: warning: protoc $have, the committed code was made with $PROTOC_VERSION (only the header comment differs)" >&2
fi

bin="$(mktemp -d)"
trap 'rm -rf "$bin"' EXIT
# Build the plugins outside the module so its go.mod is not consulted or changed.
(cd "$bin" && GOBIN="$bin" GOFLAGS=-mod=mod go install "google.golang.org/protobuf/cmd/protoc-gen-go@${PROTOC_GEN_GO_VERSION}")
(cd "$bin" && GOBIN="$bin" GOFLAGS=-mod=mod go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@${PROTOC_GEN_GO_GRPC_VERSION}")

cd "$here"
PATH="$bin:$PATH" protoc \
	--proto_path=. \
	--go_out=. --go_opt=paths=source_relative \
	--go-grpc_out=. --go-grpc_opt=paths=source_relative \
	policy/v1/policy.proto
echo "generate.sh: wrote $here/policy/v1/policy.pb.go and policy_grpc.pb.go"

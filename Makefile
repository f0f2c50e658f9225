# scalelab — make targets. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin:$(HOME)/go/bin
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -X main.version=$(VERSION)
BIN := bin/scalelab
CONFIG ?= configs/seed.yaml

.PHONY: all build test test-short bench lint run docs check-docs tools clean

all: build

## build: compile the scalelab CLI into bin/scalelab
build: tools
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/scalelab

## run: run the seed experiment on the embedded simulator (CONFIG=... for another)
run: build
	./$(BIN) run $(CONFIG)

## test: vet, then every unit and integration test (what CI runs)
test: tools
	$(GO) vet ./...
	$(GO) test -count=1 ./...

## test-short: the fast subset
test-short: tools
	$(GO) test -short ./...

## bench: benchmarks (simulator, policies); see docs/performance.md
bench: tools
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./sim/... ./framework/... ./policies/...

## lint: gofmt, go vet, staticcheck when installed
lint: tools
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@if command -v staticcheck >/dev/null; then staticcheck ./...; else echo "staticcheck not installed (go install honnef.co/go/tools/cmd/staticcheck@latest)"; fi

## docs: regenerate docs/configuration.md from the code
docs: build
	./$(BIN) docs-config > docs/configuration.md

## tools: make sure a Go toolchain is available (installs one on a fresh Debian/Ubuntu)
tools:
	@scripts/ensure-go.sh

clean:
	rm -rf bin

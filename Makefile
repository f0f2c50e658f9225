# scalelab — make targets. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin:$(HOME)/go/bin
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -X main.version=$(VERSION)
BIN := bin/scalelab
CONFIG ?= configs/seed.yaml

.PHONY: all build test test-short bench lint run docs check-docs tools clean seed-agent examples

all: build

## build: compile the scalelab CLI into bin/scalelab
build: tools
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/scalelab

## run: run the seed experiment on the embedded simulator (CONFIG=... for another)
run: build
	./$(BIN) run $(CONFIG)

## test: vet, then every unit and integration test (what CI runs)
test: tools
	scripts/build-k8s-testenv.sh >/dev/null
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

## seed-agent: retrain the seed experiment's PPO checkpoint (configs/checkpoints/ppo-seed.json)
seed-agent: build
	./$(BIN) train configs/ppo-seed.yaml --out results/train/ppo-seed

## docs: regenerate docs/configuration.md from the code
docs: build
	./$(BIN) docs-config > docs/configuration.md

## examples: regenerate the example reports in docs/examples: the seed experiment and the
## three ablation studies at reduced scale (N = 3, mixed load, 10 min runs, a PPO budget of
## six iterations) so that they take minutes; the numbers show the report, not results
EXAMPLE_SETS := --set experiment.repetitions=3 --set 'experiment.profiles=[mixed]' --set experiment.duration=10m \
	--set experiment.warmup=1m --set policies.ppo.total_timesteps=2880
examples: build
	./$(BIN) run $(CONFIG) --out results/examples/seed -q --no-report $(EXAMPLE_SETS) \
	  --set policies.ppo.checkpoint=../results/examples/seed-ppo.json
	./$(BIN) report results/examples/seed --out docs/examples/seed --no-html --no-svg
	for s in state reward action; do \
	  ./$(BIN) sweep configs/ablation-$$s.yaml --out results/examples/ablation-$$s -q --no-report $(EXAMPLE_SETS) || exit 1; \
	  ./$(BIN) report results/examples/ablation-$$s --out docs/examples/ablation-$$s --no-html --no-svg || exit 1; \
	done

## tools: make sure a Go toolchain is available (installs one on a fresh Debian/Ubuntu)
tools:
	@scripts/ensure-go.sh

clean:
	rm -rf bin

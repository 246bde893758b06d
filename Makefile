# fedgen — build, test and run the walk-through.
#
#   make demo    the seed's three-cluster walk-through on local clusters
#   make test    every test (builds the cluster tools first when missing)
#   make bench   the benchmark suite; writes docs/benchmarks.md
#
SHELL := /bin/bash
GO    ?= go
BIN   := $(CURDIR)/bin
PKGS  := ./...

.PHONY: all build test unit lint tools generate demo bench golden clean

all: build

## build: the fedgen binary into bin/
build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/fedgen ./cmd/fedgen

## tools: kube-apiserver, etcd and Flux's controllers, built from source into a
## cache outside the checkout (only what is missing), linked into bin/
tools:
	@hack/tools/build.sh

## generate: the Link CRD (config/crd) and deepcopy functions, by controller-gen
generate:
	@hack/tools/build.sh controller-gen
	$(BIN)/controller-gen object crd:crdVersions=v1 paths=./internal/apis/... output:crd:artifacts:config=config/crd

## test: all tests, with the real local clusters; the reconciler's packages
## (many goroutines around one loop) under the race detector
RACE_PKGS := ./reconciler/...
test: tools
	FEDGEN_BIN_DIR=$(BIN) $(GO) test -count=1 -timeout 45m $$($(GO) list $(PKGS) | grep -v '/reconciler')
	FEDGEN_BIN_DIR=$(BIN) $(GO) test -race -count=1 -timeout 45m $(RACE_PKGS)

## unit: the fast tests only (no local clusters)
unit:
	$(GO) test -count=1 -short $(PKGS)

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

## golden: rewrite the generator's golden files (review the diff!)
golden:
	$(GO) test ./generator -run Golden -update

## demo: the three-cluster walk-through, live
demo: tools build
	FEDGEN_BIN_DIR=$(BIN) $(GO) run ./examples/walkthrough/demo

## bench: the benchmark suite at the issue's sizes (about 10 minutes on 2
## cores); writes docs/benchmarks.md, and a CPU profile per scenario into
## bin/bench-profiles for `go tool pprof`. To check the suite itself in a
## minute: make bench BENCH_FLAGS=-scale=small BENCH_OUT=/tmp/bench.md
BENCH_OUT ?= docs/benchmarks.md
bench: tools
	FEDGEN_BIN_DIR=$(BIN) $(GO) run ./hack/bench -out $(BENCH_OUT) -cpuprofile $(BIN)/bench-profiles $(BENCH_FLAGS)

clean:
	rm -rf $(BIN)

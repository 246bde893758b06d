# fedgen — build, test and run the walk-through.
#
#   make demo    the seed's three-cluster walk-through on local clusters
#   make demo-review  the same with --push-branch: the join as a pull request on Gitea
#   make test    every test (builds the cluster tools first when missing)
#   make bench   the benchmark suite; writes docs/benchmarks.md
#   make image   fedgen's OCI image (linux/amd64, linux/arm64) into _out/image
#   make release image, chart, binaries and checksums into _out/release
#   make soak    fedgen for 30 minutes under churn and overlapping faults
#
SHELL := /bin/bash
GO    ?= go
BIN   := $(CURDIR)/bin
PKGS  := ./...

.PHONY: all build rig test unit lint tools generate demo demo-review bench soak golden image release clean

# What `fedgen version` says, stamped into every build; the image and the
# release take the same.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

all: build

## build: the fedgen binary into bin/
build:
	@mkdir -p $(BIN)
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/fedgen ./cmd/fedgen

## image: fedgen's OCI image without a Docker daemon (hack/image, its own
## module): static binaries for linux/amd64 and linux/arm64 on a base layer
## written there, as an OCI layout in _out/image/oci, with each platform's
## binary and SPDX SBOM and image.json beside it. The same commit gives the
## same digest. IMAGE=registry/repo:tag also pushes it.
IMAGE_DIR ?= $(CURDIR)/_out/image
IMAGE     ?=
image:
	GOWORK=off $(GO) -C hack/image run . -src $(CURDIR) -out $(IMAGE_DIR) \
		-version $(VERSION) -commit $(COMMIT) $(if $(IMAGE),-push $(IMAGE))

## release: the image, the chart package, a checksummed binary per platform
## and the SBOMs into _out/release/$(VERSION) (hack/release.sh)
release:
	VERSION=$(VERSION) COMMIT=$(COMMIT) IMAGE=$(IMAGE) hack/release.sh

## tools: kube-apiserver, etcd, Flux's controllers, and kube-proxy and CoreDNS
## for the pod network, built from source into a cache outside the checkout
## (only what is missing), linked into bin/
tools:
	@hack/tools/build.sh

## rig: bin/bb, the program the pod network's pods run (test rig, never shipped)
rig:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/bb ./internal/rig/bb/cmd/bb

## generate: the Link CRD (config/crd) and deepcopy functions, by controller-gen
generate:
	@hack/tools/build.sh controller-gen
	$(BIN)/controller-gen object crd:crdVersions=v1 paths=./internal/apis/... output:crd:artifacts:config=config/crd

## test: all tests, with the real local clusters; the reconciler's packages
## (many goroutines around one loop) under the race detector
RACE_PKGS := ./reconciler/...
test: tools image
	FEDGEN_BIN_DIR=$(BIN) FEDGEN_IMAGE_DIR=$(IMAGE_DIR) $(GO) test -count=1 -timeout 45m $$($(GO) list $(PKGS) | grep -v '/reconciler')
	FEDGEN_BIN_DIR=$(BIN) $(GO) test -race -count=1 -timeout 45m $(RACE_PKGS)
	FEDGEN_IMAGE_DIR=$(IMAGE_DIR) GOWORK=off $(GO) -C hack/image test -count=1 -timeout 15m ./...

## unit: the fast tests only (no local clusters)
unit:
	$(GO) test -count=1 -short $(PKGS)
	GOWORK=off $(GO) -C hack/image test -count=1 -short ./...

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	GOWORK=off $(GO) -C hack/image vet ./...

## golden: rewrite the generator's golden files (review the diff!)
golden:
	$(GO) test ./generator -run Golden -update

## demo: the three-cluster walk-through, live; as root, step 6 sends real
## traffic over a pod network (network namespaces, kube-proxy, CoreDNS)
demo: tools build rig
	FEDGEN_BIN_DIR=$(BIN) $(GO) run ./examples/walkthrough/demo

## demo-review: the walk-through in review mode, on Gitea: the join shows up as
## a pull request, merged through Gitea's API; then a pod IP change reaches west
## without one
demo-review: tools build
	FEDGEN_BIN_DIR=$(BIN) $(GO) run ./examples/walkthrough/demo -review

## bench: the benchmark suite at the issue's sizes (about 80 minutes on 2
## cores, 35 of them scenario 7's 10,000 commits); writes docs/benchmarks.md,
## and a CPU profile per scenario into bin/bench-profiles for `go tool pprof`.
## Some scenarios only, keeping the others' sections in the report:
## make bench BENCH_FLAGS=-only=5,6. To check the suite itself in a
## minute: make bench BENCH_FLAGS=-scale=small BENCH_OUT=/tmp/bench.md
BENCH_OUT ?= docs/benchmarks.md
bench: tools
	FEDGEN_BIN_DIR=$(BIN) $(GO) run ./hack/bench -out $(BENCH_OUT) -cpuprofile $(BIN)/bench-profiles $(BENCH_FLAGS)

## soak: fedgen (two replicas, leader election) on 3-5 local clusters with
## Flux and a Git server, for SOAK (default 30m) of churn and overlapping
## faults; after each fault window the invariants are checked. Prints a
## table and exits non-zero on a violation, with the seed to replay it:
##   make soak SOAK=2h         make soak SEED=123456 SOAK=30m
SOAK ?= 30m
SEED ?= 0
soak: tools
	FEDGEN_BIN_DIR=$(BIN) $(GO) run ./hack/soak -duration $(SOAK) -seed $(SEED) $(SOAK_FLAGS)

clean:
	rm -rf $(BIN) _out

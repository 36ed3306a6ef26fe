# Stratoswarm — build, test and benchmark targets. `make help` lists them.
SHELL := /bin/bash
GO ?= go
BIN := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.1.0-dev)
LDFLAGS := -X github.com/stratoswarm/stratoswarm/host/buildinfo.Version=$(VERSION)
PKGS := ./...
# The test suite; `make test TESTFLAGS=-v` for detail.
TESTFLAGS ?=
RUN_DATA_DIR ?= $(CURDIR)/out/run

.PHONY: help build plugins run test bench lint proto clean fuzz image containerd-smoke

fuzz: ## fuzz the manifest, envelope and SDK request decoders (FUZZTIME=1m each by default)
	$(GO) test -run '^$$' -fuzz FuzzParseManifest -fuzztime $${FUZZTIME:-1m} ./host/registry/
	$(GO) test -run '^$$' -fuzz FuzzParseEnvelope -fuzztime $${FUZZTIME:-1m} ./host/plugin/
	$(GO) test -run '^$$' -fuzz FuzzScanner -fuzztime $${FUZZTIME:-1m} ./host/plugin/
	cd sdk-wasm && $(GO) test -run '^$$' -fuzz FuzzHandle -fuzztime $${FUZZTIME:-1m} .
	cd sdk-wasm && $(GO) test -run '^$$' -fuzz FuzzTrustDecode -fuzztime $${FUZZTIME:-1m} .
	cd sdk-wasm && $(GO) test -run '^$$' -fuzz FuzzAdjustDecode -fuzztime $${FUZZTIME:-1m} .

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: plugins ## build swarmd, swarmctl, swarm-init (the native runtime's init, found beside them) and tspsolver into bin/
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/swarmd ./cmd/swarmctl ./cmd/swarm-init
	# Static: candidates and agent replicas run it in containers without a libc.
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./benchmarks/agents/tspsolver

plugins: ## build the built-in Wasm plugins into host/plugin/builtin/wasm (embedded by swarmd)
	./plugins/build.sh host/plugin/builtin/wasm

# The main job: evolve the example TSP solver, then release the winner as a
# canary of the running incumbent agent under generated traffic
# (hack/run.sh). make run RUN_STRATEGY=cmaes picks the strategy;
# make run RUN_WORSE=1 canaries a deliberately worse design, which is rolled back.
RUN_STRATEGY ?= random
RUN_EVALUATIONS ?= 16
RUN_SEED ?= 1
RUN_WORSE ?= 0
RUN_INTERVAL ?= 5s

run: build ## the main job: evolve the TSP solver, canary the winner against the live agent, promote or roll back (RUN_WORSE=1: a worse design, rolled back)
	RUN_STRATEGY=$(RUN_STRATEGY) RUN_EVALUATIONS=$(RUN_EVALUATIONS) RUN_SEED=$(RUN_SEED) \
		RUN_WORSE=$(RUN_WORSE) RUN_INTERVAL=$(RUN_INTERVAL) ./hack/run.sh $(BIN) $(RUN_DATA_DIR)

test: plugins ## the whole test suite
	$(GO) test -count=1 -timeout 15m $(TESTFLAGS) $(PKGS) ./sdk-wasm/...

bench: build ## performance benchmarks with ratios against the alternatives
	$(GO) test -run '^$$' -bench . -benchtime 20000x -timeout 60m ./benchmarks/perf/

lint: ## gofmt, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS) ./sdk-wasm/...
	$(GO) tool staticcheck $(PKGS) ./sdk-wasm/...

image: ## the container test image: an OCI layout (and tar) of Debian's busybox-static in out/images
	$(GO) run ./hack/mkimage --busybox /bin/busybox --out out/images/busybox

containerd-smoke: image ## start our own containerd (hack/containerd.sh), import the test image, run it
	@sock=$$(./hack/containerd.sh start out/containerd) && \
	ctr --address $$sock images import --base-name stratoswarm.local/busybox out/images/busybox.tar && \
	ctr --address $$sock run --rm stratoswarm.local/busybox:test smoke-$$$$ /bin/sh -c 'echo the test image runs under containerd'; \
	status=$$?; ./hack/containerd.sh stop out/containerd; exit $$status

proto: ## regenerate api/ Go code from the .proto files (pinned generators)
	./hack/proto.sh

clean: ## remove build outputs
	rm -rf $(BIN) out

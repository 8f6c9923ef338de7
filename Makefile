# tunedcilium: see README.md. Every target does its own set-up.
SHELL := /usr/bin/env bash
export PATH := $(PATH):/usr/local/go/bin:$(HOME)/go/bin

GO        ?= go
BIN       ?= bin
REPORT_DIR ?= $(CURDIR)/report
E2E_ARGS  ?=
E2E_TIMEOUT ?= 120m

.PHONY: all build test lint deps e2e clean
all: build

deps: ## install the tools the tests drive (root on Debian)
	@bash hack/deps.sh

build: ## build the CLI into bin/
	$(GO) build -o $(BIN)/tunedcilium ./cmd/tunedcilium

test: deps ## unit tests and real-kernel tests (run as root)
	$(GO) test -count=1 ./...

ACTIONLINT ?= github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
lint: ## gofmt, go vet (with and without the e2e tag), actionlint on the workflows (shellcheck on their scripts when installed)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags e2e ./...
	@command -v shellcheck >/dev/null || echo "actionlint: shellcheck not installed, run: scripts are not checked (make deps installs it)"
	$(GO) run $(ACTIONLINT) .github/workflows/*.yaml

e2e: ## the e2e suite against clusters (see README for flags)
	$(GO) test -tags e2e -count=1 -v -timeout $(E2E_TIMEOUT) ./e2e/... -args --report-dir=$(REPORT_DIR) $(E2E_ARGS)

# --- air-gapped images and this lab's Docker (docs/airgapped.md) ---
.PHONY: env images e2e-offline
env: ## this lab's Docker set-up: docker.io, the runc wrapper as default runtime, inotify limits (root)
	@bash hack/docker-env.sh

IMAGES_ARGS ?=
images: env ## build every air-gapped image into the local Docker engine (incremental; IMAGES_ARGS="--only cilium --force")
	$(GO) run ./cmd/tunedcilium images build $(IMAGES_ARGS)

OFFLINE_PROFILES ?= baseline,seed-part8,bypass-isolated,bypass-isolated-off
e2e-offline: images ## the air-gapped run on this machine: 2-node kind from local images, the seed profiles and their negative controls
	$(GO) test -tags e2e -count=1 -v -timeout $(E2E_TIMEOUT) ./e2e/... -args --provider=kind --images=local --nodes=2 --profiles=$(OFFLINE_PROFILES) --report-dir=$(REPORT_DIR) $(E2E_ARGS)

clean: ## remove leftover tunedcilium clusters (any run), their Docker networks and kubeconfigs
	$(GO) run ./cmd/tunedcilium clean

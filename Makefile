# FeatureVault development tasks. `make` (or `make help`) lists them.
# Tools are pinned and installed into .tmp/bin by the scripts, never globally.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# How long `make fuzz` runs each fuzz target.
FUZZTIME ?= 10s
# Which benchmarks `make bench` runs (a go test -bench pattern).
BENCH ?= .

.PHONY: help
help: ## Show this list of targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-18s %s\n", $$1, $$2}'

.PHONY: build
build: ## Build the featurevault binary into .tmp/bin
	go build -o .tmp/bin/featurevault ./cmd/featurevault

.PHONY: serve
serve: ## Run a development server on 127.0.0.1:8433 with data in ./featurevault-data
	go run ./cmd/featurevault serve

.PHONY: generate
generate: ## Regenerate the protobuf and Connect code under proto/ (offline)
	scripts/generate.sh

.PHONY: lint
lint: ## Check formatting (gofmt -l) and run go vet
	@unformatted="$$(gofmt -l $$(go list -f '{{.Dir}}' ./...))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet ./...

.PHONY: staticcheck
staticcheck: ## Static analysis: staticcheck and gosec, pinned, findings fixed or justified in place
	scripts/staticcheck.sh

.PHONY: test
test: ## Run every test with the race detector
	go test -race ./...

.PHONY: bench
bench: ## Run the benchmarks (BENCH=pattern to choose; figures go in BENCHMARKS.md)
	go test -run '^$$' -bench '$(BENCH)' -benchmem ./...

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (default 10s; CI runs 3s, before a release 10m)
	scripts/fuzz.sh '$(FUZZTIME)'

.PHONY: check-generated
check-generated: generate ## Fail if the committed code under proto/ differs from what generate makes
	@if [ -n "$$(git status --porcelain -- proto)" ]; then \
	  echo "generated code under proto/ is out of date; run 'make generate' and commit:"; \
	  git status --porcelain -- proto; exit 1; fi
	git diff --exit-code -- proto

.PHONY: ci
ci: ## Run what CI runs (.ci/run)
	.ci/run

.PHONY: clean
clean: ## Remove build outputs and tools in .tmp (not featurevault-data)
	rm -rf .tmp coverage.out coverage.html

.PHONY: pyenv
pyenv: ## Create .tmp/pyvenv with the Python package and its test dependencies (go test ./... then runs python/tests)
	[ -x .tmp/pyvenv/bin/python ] || python3 -m venv .tmp/pyvenv
	.tmp/pyvenv/bin/pip install -q './python[test,torch]'
	.tmp/pyvenv/bin/pip install -q --no-deps --force-reinstall ./python

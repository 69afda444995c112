# forumops.discourse — one entry point for set-up, the demo, lint and tests.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
COLLECTION_LINK := .collections/ansible_collections/forumops/discourse
STAMP := $(VENV)/.installed
INVENTORY ?= inventories/example
# The example's documented dev password; a real customer's lives outside the repository.
VAULT_PASSWORD_FILE ?= inventories/example/vault-password.txt
REHEARSAL := tools/rehearsal/rehearsal
PYTEST := $(BIN)/pytest

.PHONY: help setup demo lint ruff ansible-lint actionlint sanity changelog-lint variables-reference unit go-tools integration molecule \
	test test-fast bench rehearsal-build rehearsal-up rehearsal-down clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(STAMP): requirements/runtime.txt requirements/test.txt requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements/test.txt -c requirements/constraints.txt
	touch $@

$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn ../../.. $@

DEBIAN_STAMP := $(VENV)/.debian-packages
$(DEBIAN_STAMP): tools/debian-packages
	tools/debian-packages
	mkdir -p $(VENV) && touch $@

setup: $(DEBIAN_STAMP) $(STAMP) $(COLLECTION_LINK) ## Install missing Debian packages, create .venv from the pinned requirements, link the collection

# Without KUBECONFIG: the local rehearsal cluster, with its inventory overlay (kubeconfig, S3 stand-in).
demo: setup $(if $(KUBECONFIG),,rehearsal-up) ## The main job: converge the example inventory (rehearsal cluster unless KUBECONFIG is set)
	$(BIN)/ansible-playbook -i $(INVENTORY) $(if $(KUBECONFIG),,-i .rehearsal/inventory) \
		--vault-password-file $(VAULT_PASSWORD_FILE) playbooks/site.yml

ruff: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

ansible-lint: setup
	$(BIN)/ansible-lint --profile production

actionlint: setup
	$(BIN)/actionlint .github/workflows/*.yml

sanity: setup ## ansible-test sanity on a copy of the collection at an ansible_collections path
	tools/ansible-test/sanity

changelog-lint: setup
	$(BIN)/antsibull-changelog lint

variables-reference: setup ## Fail when docs/variables.md or the example's defaults.yml lag the argument specs
	$(BIN)/python tools/variables-reference --check

lint: ruff ansible-lint actionlint changelog-lint variables-reference sanity ## All linters

unit: setup ## Unit tests (pure functions, no servers)
	$(PYTEST) tests/unit

go-tools: setup ## Build (or reuse cached) the Go tools the tests run: promtool, kustomize, cosign, syft, registry, ...
	$(BIN)/python -m tests.fixtures.go_tools

# Two workers, each taking whole files (module fixtures such as a converged site stay in one worker):
# the tests mostly wait on playbooks and the API server, so two run in about 11 minutes instead of 19.
integration: setup go-tools rehearsal-up ## Integration tests against real servers and the rehearsal cluster
	$(PYTEST) -n 2 --dist loadfile -m "not serial" tests/integration
	$(PYTEST) -m serial tests/integration

molecule: setup rehearsal-up ## Every molecule scenario against the rehearsal cluster (site runs in test_site.py)
	tools/molecule-all

test-fast: ruff unit ## Quick loop: ruff and unit tests

# The cluster comes down even when a step fails; the first failure decides the exit code.
test: setup ## Everything CI runs: lint, unit, integration, molecule
	$(MAKE) lint
	$(MAKE) unit
	status=0; $(MAKE) -k integration molecule || status=$$?; $(MAKE) rehearsal-down; exit $$status

bench: setup ## Benchmarks (each prints a ratio against a baseline measured in the same run)
	status=0; for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || status=1; done; exit $$status

rehearsal-build: ## Build (or reuse cached) control-plane binaries
	$(REHEARSAL) build

rehearsal-up: setup ## Start the local rehearsal cluster; writes .rehearsal/kubeconfig
	$(REHEARSAL) up

rehearsal-down: ## Stop every rehearsal process
	$(REHEARSAL) down

clean: rehearsal-down
	rm -rf .collections .build tests/output

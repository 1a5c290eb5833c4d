# Urban Stack: the two commands of the README are `make up` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PLAN_DIR ?= build/plan
# The Pulumi CLI version installed by `make up` when none is on PATH (same release as the pinned SDK).
PULUMI_VERSION := 3.272.0
PULUMI_ROOT := $(CURDIR)/.pulumi
# Local file backend inside the project unless the caller chose another (e.g. Pulumi Cloud or S3).
export PULUMI_BACKEND_URL ?= file://$(CURDIR)/.pulumi-state
export PULUMI_SKIP_UPDATE_CHECK := true
export PATH := $(PULUMI_ROOT)/bin:$(PATH)

.PHONY: help venv up test lint pytest check plan docs bench clean checkov-venv focus-venv images pulumi-cli

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP) ## Create .venv and install the pinned dependencies

pulumi-cli: ## Install the pinned Pulumi CLI into .pulumi/ unless one is on PATH
	@if command -v pulumi >/dev/null 2>&1; then echo "Pulumi CLI: $$(command -v pulumi) ($$(pulumi version))"; \
	else echo "installing Pulumi $(PULUMI_VERSION) into $(PULUMI_ROOT) with Pulumi's official installer"; \
	  curl -fsSL https://get.pulumi.com | sh -s -- --version $(PULUMI_VERSION) --install-root $(PULUMI_ROOT) --no-edit-path; fi

.pulumi-passphrase:
	@umask 077; $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(32))' > $@
	@echo "created .pulumi-passphrase (encrypts stack secrets of the local backend; keep it safe, it is git-ignored)"

up: venv pulumi-cli .pulumi-passphrase ## Deploy: shared, then every municipality (renders manifests without a kubeconfig)
	@mkdir -p .pulumi-state
	PULUMI_CONFIG_PASSPHRASE_FILE=$${PULUMI_CONFIG_PASSPHRASE_FILE:-$(CURDIR)/.pulumi-passphrase} \
	  $(BIN)/urbanstack up --all $(if $(PARALLEL),--parallel $(PARALLEL),)

test: venv checkov-venv lint pytest check ## Lint, unit tests, then the manifest checks over the offline plan

lint: venv ## ruff
	$(BIN)/ruff check .

pytest: venv ## Unit tests (Pulumi mocks, moto; no network, no cluster)
	$(BIN)/python -m pytest

plan: venv ## Offline plan of shared + every municipality into build/plan
	$(BIN)/urbanstack plan --out $(PLAN_DIR)

# checkov lives in its own virtualenv: it pins packaging<24, pulumi needs packaging>=26 (docs/governance.md).
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)

$(CHECKOV_STAMP):
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	@touch $(CHECKOV_STAMP)

checkov-venv: $(CHECKOV_STAMP) ## Create .venv-checkov with the pinned checkov (own venv: conflicts with pulumi)

# focus-validator 1.0.0 lives in its own virtualenv: it needs numpy<2 and pandas<3 (docs/finance.md). Pins in
# finance/focus-validator.requirements.txt; the finance tests create it the same way when it is missing.
focus-venv: venv ## Create .venv-focus with the pinned focus-validator 1.0.0 (own venv: numpy<2, pandas<3)
	$(BIN)/python -m finance.focuscheck --ensure

check: plan checkov-venv ## Checks over the offline plan: schemas, checkov, cost labels, NetworkPolicy reachability, policy pack
	$(BIN)/urbanstack docs check
	$(BIN)/urbanstack check $(PLAN_DIR) --checkov $(CHECKOV_VENV)/bin/checkov

docs: venv ## Regenerate the generated docs and the tenant JSON Schema
	$(BIN)/urbanstack docs write

# Build AND push images/<key>/Dockerfile as <imageRegistry>/<name>:<tag> (registry: stacks/Pulumi.shared.yaml,
# tags: components/versions.py); needs Docker and a `docker login` to the registry (urbanstack/images.py).
images: venv ## Build the images upstream does not publish and push them to urban-stack:imageRegistry
	$(BIN)/python -m urbanstack.images

bench: venv checkov-venv ## Benchmarks (plan scaling, cost allocation, checks); prints a table, writes bench/results/
	$(BIN)/python -m bench.run

clean: ## Remove build output (keeps .venv and state)
	rm -rf build .pytest_cache .ruff_cache

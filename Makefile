# Urban Stack: the two commands of the README are `make up` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PLAN_DIR ?= build/plan
STEP := scripts/step
# uv itself is installed by pip from requirements/uv.txt (--require-hashes: every published file's SHA-256); it installs
# from the hash-checked lock files in requirements/ (seconds instead of minutes with pip). The checkov
# and focus-validator venvs get their bytecode at install time, as pip would write it (--compile-bytecode): with
# PYTHONDONTWRITEBYTECODE set (as on our build machine) each checkov run compiled checkov again (3.4 s of its 5.8 s
# start-up, 2026-12-01). Not .venv: compiling it took 47 s on a fresh clone, and pytest was not faster with it.
UV_VERSION := 0.13.8
UV := $(BIN)/uv
# The Pulumi CLI installed by `make up` when none is on PATH: the release of the pinned SDK (pyproject.toml).
PULUMI_VERSION := $(shell sed -n 's/.*"pulumi==\([0-9.]*\)".*/\1/p' pyproject.toml)
PULUMI_ROOT ?= $(CURDIR)/.pulumi
PULUMI_INSTALL_URL ?= https://get.pulumi.com/install.sh
# Local file backend inside the project unless the caller chose another (e.g. Pulumi Cloud or S3).
export PULUMI_BACKEND_URL ?= file://$(CURDIR)/.pulumi-state
export PULUMI_SKIP_UPDATE_CHECK := true
export PATH := $(PULUMI_ROOT)/bin:$(PATH)

.PHONY: help venv up test lint pytest check plan docs bench clean checkov-venv focus-venv images pulumi-cli lock postgres-server

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements/dev.lock requirements/uv.txt
	@test -x $(BIN)/python || $(STEP) "create .venv" $(PYTHON) -m venv --without-pip $(VENV)
	@test -x $(UV) || $(STEP) "install uv $(UV_VERSION) into .venv (requirements/uv.txt, hash-checked)" $(PYTHON) -m pip --python $(BIN)/python install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements/uv.txt
	@$(STEP) "install locked dependencies into .venv (requirements/dev.lock)" $(UV) pip install --quiet --python $(BIN)/python --require-hashes --no-deps -r requirements/dev.lock
	@$(STEP) "install this project into .venv (editable)" $(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP) ## Create .venv and install the locked dependencies

lock: $(STAMP) ## Re-resolve requirements/*.lock after changing a pin in pyproject.toml or requirements/*.in
	$(UV) pip compile --quiet pyproject.toml --extra dev --override requirements/overrides.txt --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 -o requirements/dev.lock
	$(UV) pip compile --quiet requirements/checkov.in --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 -o requirements/checkov.lock
	$(UV) pip compile --quiet requirements/uv.in --generate-hashes --universal -o requirements/uv.txt
	$(UV) pip compile --quiet requirements/focus-validator.in --no-deps --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 -o finance/focus-validator.requirements.txt

pulumi-cli: ## Install the pinned Pulumi CLI into .pulumi/ unless one is on PATH (stops with what to do when it cannot)
	@if command -v pulumi >/dev/null 2>&1; then echo "Pulumi CLI: $$(command -v pulumi) ($$(pulumi version))"; exit 0; fi; \
	echo "installing Pulumi $(PULUMI_VERSION) into $(PULUMI_ROOT) with Pulumi's official installer ($(PULUMI_INSTALL_URL))"; \
	created=; test -e "$(PULUMI_ROOT)" || created=1; \
	fail() { echo "make pulumi-cli: $$1" >&2; \
	  echo "  Alternatives: install Pulumi $(PULUMI_VERSION) by hand (https://www.pulumi.com/docs/iac/download-install/) and put it on PATH," >&2; \
	  echo "  or point PULUMI_ROOT=DIR at an existing install (DIR/bin/pulumi). \`make plan\` works offline without any CLI." >&2; \
	  if [ -n "$$created" ]; then rm -rf "$(PULUMI_ROOT)"; fi; exit 1; }; \
	mkdir -p "$(PULUMI_ROOT)"; \
	curl -fsSL --connect-timeout 20 -o "$(PULUMI_ROOT)/install.sh" "$(PULUMI_INSTALL_URL)" \
	  || fail "could not download the Pulumi installer from $(PULUMI_INSTALL_URL)"; \
	sh "$(PULUMI_ROOT)/install.sh" --version $(PULUMI_VERSION) --install-root "$(PULUMI_ROOT)" --no-edit-path \
	  || fail "the Pulumi installer failed (see above)"; \
	"$(PULUMI_ROOT)/bin/pulumi" version | grep -qx "v$(PULUMI_VERSION)" \
	  || fail "$(PULUMI_ROOT)/bin/pulumi is not Pulumi $(PULUMI_VERSION)"; \
	rm -f "$(PULUMI_ROOT)/install.sh"

.pulumi-passphrase:
	@umask 077; $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(32))' > $@
	@echo "created .pulumi-passphrase (encrypts stack secrets of the local backend; keep it safe, it is git-ignored)"

up: venv pulumi-cli .pulumi-passphrase ## Deploy: shared, then every municipality (renders manifests without a kubeconfig)
	@mkdir -p .pulumi-state
	PULUMI_CONFIG_PASSPHRASE_FILE=$${PULUMI_CONFIG_PASSPHRASE_FILE:-$(CURDIR)/.pulumi-passphrase} \
	  $(BIN)/urbanstack up --all $(if $(PARALLEL),--parallel $(PARALLEL),)

test: venv checkov-venv focus-venv postgres-server lint pytest check ## Lint, unit tests, then the manifest checks over the offline plan

lint: venv ## ruff
	@$(STEP) "lint (ruff)" $(BIN)/ruff check --quiet .

pytest: venv ## Unit tests (Pulumi mocks, moto; no network, no cluster)
	@$(STEP) "unit tests (pytest, one worker per core)" $(BIN)/python -m pytest -n auto

plan: venv ## Offline plan of shared + every municipality into build/plan
	@$(STEP) "offline plan into $(PLAN_DIR)" $(BIN)/urbanstack plan --out $(PLAN_DIR)

# checkov lives in its own virtualenv: it pins packaging<24, pulumi needs packaging>=26 (docs/governance.md).
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)

$(CHECKOV_STAMP): requirements/checkov.lock | $(STAMP)
	@test -x $(CHECKOV_VENV)/bin/python || $(STEP) "create $(CHECKOV_VENV)" $(UV) venv --quiet --python $(PYTHON) $(CHECKOV_VENV)
	@$(STEP) "install checkov $(CHECKOV_VERSION) into $(CHECKOV_VENV) (requirements/checkov.lock)" $(UV) pip install --quiet --compile-bytecode --python $(CHECKOV_VENV)/bin/python --require-hashes -r requirements/checkov.lock
	@touch $(CHECKOV_STAMP)

checkov-venv: $(CHECKOV_STAMP) ## Create .venv-checkov with the pinned checkov (own venv: conflicts with pulumi)

# The restore drill (tests/test_restore_drill.py) runs a real PostgreSQL server: Debian's package `postgresql`
# (it also creates the user postgres the drill runs the server as). Installed here when missing and we may
# (root with apt-get, as on CI); otherwise the drill says what to install and skips (fails when CI=true).
postgres-server: ## Install Debian's PostgreSQL server for the restore drill when missing (root only)
	@if ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  $(STEP) "install PostgreSQL server (apt-get, for the restore drill)" sh -c \
	    'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null'; \
	else echo "PostgreSQL server not installed: the restore drill will skip (install Debian's postgresql package)"; fi

# focus-validator 1.0.0 lives in its own virtualenv: it needs numpy<2 and pandas<3 (docs/finance.md). Pins in
# finance/focus-validator.requirements.txt; the finance tests create it the same way when it is missing.
focus-venv: venv ## Create .venv-focus with the pinned focus-validator 1.0.0 (own venv: numpy<2, pandas<3)
	@$(STEP) "focus-validator venv (.venv-focus)" $(BIN)/python -m finance.focuscheck --ensure

check: plan checkov-venv ## Checks over the offline plan: schemas, checkov, cost labels, reachability, policy pack, pod security, RBAC, API validation, references, supported releases
	@$(STEP) "generated docs up to date" $(BIN)/urbanstack docs check
	@$(STEP) "checks over the plan" $(BIN)/urbanstack check $(PLAN_DIR) --checkov $(CHECKOV_VENV)/bin/checkov

docs: venv ## Regenerate the generated docs and the tenant JSON Schema
	$(BIN)/urbanstack docs write

# Build AND push images/<key>/Dockerfile as <imageRegistry>/<name>:<tag> (registry: stacks/Pulumi.shared.yaml,
# tags: catalogue/versions.py); needs Docker and a `docker login` to the registry (urbanstack/ops/images.py).
images: venv ## Build the images upstream does not publish and push them to urban-stack:imageRegistry
	$(BIN)/python -m urbanstack.ops.images

bench: venv checkov-venv ## Benchmarks (plan + render + checks at N = 10, 100, 400 or SIZES="..."; cost allocation; ...); writes bench/results/
	$(BIN)/python -m bench.run $(if $(SIZES),--sizes "$(SIZES)",)

clean: ## Remove build output (keeps .venv and state)
	rm -rf build .pytest_cache .ruff_cache

# dataall-installer: `make demo` installs the platform in the embedded sandbox,
# `make test` runs every test. Both set up .venv on a fresh machine first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The AWS SDK for JavaScript v3 the sandbox's Node.js functions get, as Lambda's Node.js runtimes give it.
NODE_SDK := sandbox/node
NODE_STAMP := $(NODE_SDK)/node_modules/.installed
# The AWS CDK CLI, pinned, that tests/sandbox/test_cdk_cli.py runs against `sandbox serve`.
CDK_CLI := sandbox/cdk_cli
CDK_CLI_STAMP := $(CDK_CLI)/node_modules/.installed
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
PYTEST_WORKERS ?= 2

.PHONY: setup demo test test-unit test-database test-infrastructure test-sandbox test-faults test-slow check build bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[build,sandbox,dev]'
	touch $(STAMP)

$(NODE_STAMP): $(NODE_SDK)/package.json $(NODE_SDK)/package-lock.json
	npm ci --prefix $(NODE_SDK) --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

$(CDK_CLI_STAMP): $(CDK_CLI)/package.json $(CDK_CLI)/package-lock.json
	npm ci --prefix $(CDK_CLI) --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(CDK_CLI_STAMP)

setup: $(STAMP) $(NODE_STAMP) $(CDK_CLI_STAMP)

## demo: build the release (data.all's web UI included: its frontend build takes minutes once, then
## is cached) and install it in an embedded sandbox, with live progress; it ends with the site's URL.
## The region is the one data.all's release is synthesized for (installer/upstream.py SYNTH_REGION): its
## Klayers layer ARN is that region's, and Plan refuses it for a stage of another region.
## `make demo DEMO_FLAGS=--serve` keeps the embedded sandbox, and the site's URL, up until Ctrl-C.
DEMO_REGION ?= eu-west-1
DEMO_FLAGS ?=
demo: setup
	$(BIN)/dataall-installer deploy --sandbox --region $(DEMO_REGION) $(DEMO_FLAGS)

## test: the whole suite (unit, database, infrastructure, sandbox end-to-end)
test: setup
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup tests

## test-unit: no network, no Node, no release build (a guard fails a test that reaches for one);
## it needs the venv only, not the sandbox's Node SDK
test-unit: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) tests/unit

## test-database: the migrations against a real PostgreSQL the tests start (needs postgresql)
test-database: $(STAMP)
	$(BIN)/pytest tests/database

## test-infrastructure: the synthesized templates (builds the release once, then cached)
test-infrastructure: setup
	$(BIN)/pytest tests/infrastructure

## test-sandbox: end to end in the embedded local AWS
test-sandbox: setup
	$(BIN)/pytest tests/sandbox

## test-faults: the full fault matrix (every stage x every fault kind)
test-faults: setup
	$(BIN)/pytest -n $(PYTEST_WORKERS) -m faults --run-faults tests/sandbox/test_fault_matrix.py

## test-slow: the slow end-to-end cases of the matrices `make test` samples (option combinations), and
## data.all's web UI in headless Chromium (needs `chromium`; its first run builds data.all's frontend)
test-slow: setup
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup -m slow --run-slow tests/sandbox

## check: lint, format and type checks
check: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy installer lambdas blueprints sandbox cloud_assembly tools bootstrap_stack.py app.py tests
	$(BIN)/python -m tools.import_graph

build: setup
	$(BIN)/dataall-installer build

bench: setup
	$(BIN)/python bench/install.py
	$(BIN)/python bench/noop.py
	$(BIN)/python bench/cost.py
	$(BIN)/python bench/waiting.py

clean:
	rm -rf dist cdk.out .pytest_cache .mypy_cache .ruff_cache

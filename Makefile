# CarbonMeter developer commands. `make help` lists them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CDK's jsii runtime warns on every start about the Node version; the warning says nothing about us.
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

.DEFAULT_GOAL := help
.PHONY: help install layer-wheels web-assets lint typecheck test test-unit test-integration test-infra test-e2e audit demo dashboard local benchmark soak comparison instance-types synth deploy clean distclean

help: ## list the commands
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

# The project itself goes in editable (pyproject.toml): carbonmeter, functions, infra and devtools import from the
# work tree, with no PYTHONPATH.
$(BIN)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps --editable .
	touch $@

# The Boavizta API server the provider tests start: its own venv, since it brings pandas and scipy and pins fastapi.
BOAVIZTA_VENV := .build/boavizta-venv

$(BOAVIZTA_VENV)/.installed: requirements-boavizta.txt
	$(PYTHON) -m venv $(BOAVIZTA_VENV)
	$(BOAVIZTA_VENV)/bin/pip install --quiet --upgrade pip
	$(BOAVIZTA_VENV)/bin/pip install --quiet -r requirements-boavizta.txt
	touch $@

.build/wheels/.complete: $(BIN)/.installed layers/carbonmeter/requirements.txt infra/wheelhouse.py
	$(BIN)/python -m infra.wheelhouse
	touch $@

# The browser tests drive Debian's chromium through Playwright for Python (requirements-dev.txt), which never downloads
# a browser of its own. Installed once, when missing, as root (or through sudo).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium

# The web page as the stack deploys it: web/ plus the pinned uPlot files (infra/web_assets.py).
WEB_SOURCES := $(shell find web -type f 2>/dev/null)

.build/web/.complete: $(BIN)/.installed node_modules/.installed infra/web_assets.py $(WEB_SOURCES)
	$(BIN)/python -m infra.web_assets
	touch $@

install: $(BIN)/.installed .build/wheels/.complete $(BOAVIZTA_VENV)/.installed node_modules/.installed .build/web/.complete $(CHROMIUM) ## create .venv, install pinned dependencies and the project (editable), fetch the Lambda layer's wheels, set up the Boavizta test server, install the npm packages (CDK CLI, uPlot), assemble the web page, install Debian's chromium for the browser tests

layer-wheels: .build/wheels/.complete ## download the layer's dependencies built for the Lambda runtime (Python 3.14, arm64)

web-assets: .build/web/.complete ## assemble the web page for deployment (web/ and uPlot) into .build/web

lint: install ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install ## mypy with the pydantic plugin
	$(BIN)/mypy

# Every core runs tests (pytest-xdist): a worker per core, each a process with its own embedded AWS on ports of its
# own; a file's tests stay on one worker, so a module's fixtures are built once.
PYTEST_WORKERS ?= auto

test: lint typecheck ## lint, type-check and run every test tier (offline), on every core
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile

test-unit: install ## pure logic only
	$(BIN)/pytest tests/unit

test-integration: install ## against moto
	$(BIN)/pytest tests/integration

test-infra: install ## CDK assertions and cdk-nag
	$(BIN)/pytest tests/infra

test-e2e: install ## the local pipeline on an embedded AWS
	$(BIN)/pytest tests/e2e

# Outside `make test` on purpose: it needs the vulnerability database online. --strict fails the audit when a
# package cannot be checked, instead of reporting "no known vulnerabilities" for what it skipped.
audit: $(BIN)/.installed ## check pinned and installed dependencies for known vulnerabilities (online; see docs/security.md)
	$(BIN)/pip-audit --strict --progress-spinner off --no-deps --disable-pip \
		--requirement requirements.txt --requirement requirements-dev.txt --requirement layers/carbonmeter/requirements.txt \
		--requirement requirements-boavizta.txt
	$(BIN)/pip-audit --strict --progress-spinner off --skip-editable

demo: install ## run the whole hourly pipeline on an embedded AWS with a seeded demo account
	$(BIN)/python -m devtools.demo

dashboard: install ## the web page and its HTTP API on http://127.0.0.1:8400 (PORT overrides) over a local CarbonMeter with two demo tenants, until Ctrl-C
	$(BIN)/python -m devtools.dashboard

local: install ## a local CarbonMeter with the demo account collected, up until Ctrl-C (prints the setting to export)
	$(BIN)/python -m devtools.local

benchmark: install ## GetMetricData batching and collector wall time for 100, 1,000 and 10,000 resources, and the collector of before its CPU work on the same machine; a year of roll-ups read and exported; the functions' import times, peak memory, calculator throughput and layer size; GetMetricData cost at collection windows of 1, 6 and 24 hours
	$(BIN)/python -m devtools.benchmark

soak: install ## 200 connections x 24 hours with random faults, checked against a fault-free run (about 85 minutes)
	$(BIN)/python -m devtools.soak

comparison: install ## builtin vs Boavizta API vs Cloud Carbon Footprint's formula for 20+ instance types (docs/comparison.md)
	$(BIN)/python -m devtools.comparison

# Outside `make test` on purpose: it asks your own account (your AWS credentials; REGION picks the region).
instance-types: install ## refresh the layer's instance-type snapshot (carbonmeter/data/instance-types.json) from DescribeInstanceTypes of your account, us-east-1 unless REGION=...
	$(BIN)/python -m devtools.instance_types $(if $(REGION),--region $(REGION))

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

synth: install ## synthesise both CloudFormation templates into cdk.out (no credentials needed)
	npx cdk synth --quiet

deploy: install ## deploy CarbonMeterStack to the account of your current AWS credentials
	npx cdk deploy CarbonMeterStack

# What took the network to make stays: .venv, node_modules, the layer's wheels and the Boavizta server's venv.
KEPT_IN_BUILD := wheels boavizta-venv

clean: ## remove build output and caches (keeps .venv, node_modules, .build/wheels, .build/boavizta-venv: downloads)
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache
	[ ! -d .build ] || find .build -mindepth 1 -maxdepth 1 $(foreach kept,$(KEPT_IN_BUILD),! -name $(kept)) -exec rm -rf {} +

distclean: clean ## also remove every download (.venv, node_modules, .build): the next make install needs the network
	rm -rf $(VENV) .build node_modules

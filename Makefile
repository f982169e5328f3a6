# One entry point. Every target sets up what it needs (virtual environments, node tools) on first use.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
SAM := .venv-sam/bin/sam
CHECKOV := .venv-checkov/bin/checkov
PIP_FLAGS := --quiet --disable-pip-version-check
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0
export BC_SKIP_MAPPING := TRUE

.PHONY: setup demo test lint unit sandbox bench build clean

setup: $(VENV)/.installed .venv-sam/.installed .venv-checkov/.installed node_modules/.installed

$(VENV)/.installed: requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) -r requirements/dev.txt
	touch $@

.venv-sam/.installed: requirements/sam.txt
	$(PYTHON) -m venv .venv-sam
	.venv-sam/bin/pip install $(PIP_FLAGS) -r requirements/sam.txt
	touch $@

.venv-checkov/.installed: requirements/checkov.txt
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install $(PIP_FLAGS) -r requirements/checkov.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	touch $@

## demo: approval -> deploy, narrated, on the local sandbox
demo: $(VENV)/.installed
	$(PY) -m sandbox.demo

## sandbox: serve the AWS APIs of the sandbox on 127.0.0.1:$${SANDBOX_PORT:-4566}
sandbox: $(VENV)/.installed
	$(PY) -m sandbox.server

## test: the quality gates, then the whole test suite
test: lint unit

unit: $(VENV)/.installed node_modules/.installed
	$(PY) -m pytest

## lint: ruff, mypy, sam validate --lint (cfn-lint), checkov, sam build, ASL checks
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(SAM) validate --lint --template template.yaml --region $(AWS_DEFAULT_REGION)
	$(CHECKOV) --quiet --compact --framework cloudformation --file template.yaml
	$(PY) scripts/check_asl.py
	$(MAKE) --no-print-directory build

build: .venv-sam/.installed
	$(SAM) build --template template.yaml --region $(AWS_DEFAULT_REGION)

## bench: cold starts, package sizes and the demo's wall time, measured in one run
bench: $(VENV)/.installed .venv-sam/.installed
	$(MAKE) --no-print-directory build
	$(PY) scripts/bench.py

clean:
	rm -rf $(VENV) .venv-sam .venv-checkov node_modules .aws-sam .pytest_cache .mypy_cache .ruff_cache

# One entry point. Every target sets up what it needs (virtual environments, node tools) on first use.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
SAM := .venv-sam/bin/sam
CHECKOV := .venv-checkov/bin/checkov
PIPELINE_PY := .venv-pipeline/bin/python
PIP_FLAGS := --quiet --disable-pip-version-check
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0
export BC_SKIP_MAPPING := TRUE

.PHONY: setup demo test lint unit sandbox bench build clean pipeline publish

setup: $(VENV)/.installed $(VENV)/.cli-installed .venv-sam/.installed .venv-checkov/.installed .venv-pipeline/.installed node_modules/.installed

$(VENV)/.installed: requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) -r requirements/dev.txt
	touch $@

# The operator's command line, .venv/bin/mlops (editable: it runs this checkout's mlops_cli). A stamp of its own,
# so that a .venv made before the command line existed gets it too.
$(VENV)/.cli-installed: pyproject.toml $(VENV)/.installed
	$(VENV)/bin/pip install $(PIP_FLAGS) --no-deps --editable .
	touch $@

.venv-sam/.installed: requirements/sam.txt
	$(PYTHON) -m venv .venv-sam
	.venv-sam/bin/pip install $(PIP_FLAGS) -r requirements/sam.txt
	touch $@

.venv-checkov/.installed: requirements/checkov.txt
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install $(PIP_FLAGS) -r requirements/checkov.txt
	touch $@

# The SageMaker Python SDK (~1 GB), only to write the pipeline definition: never in a Lambda package.
.venv-pipeline/.installed: requirements/pipeline.txt
	$(PYTHON) -m venv .venv-pipeline
	.venv-pipeline/bin/pip install $(PIP_FLAGS) -r requirements/pipeline.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	touch $@

## demo: approval -> deploy, narrated, on the local sandbox
demo: $(VENV)/.installed $(VENV)/.cli-installed
	$(PY) -m sandbox.demo

## sandbox: serve the AWS APIs of the sandbox on 127.0.0.1:$${SANDBOX_PORT:-4566}
sandbox: $(VENV)/.installed $(VENV)/.cli-installed
	$(PY) -m sandbox.server

## test: the quality gates, then the whole test suite
test: lint unit

# Two workers (this machine's cores), a file per worker at a time: module-scoped sandbox worlds stay whole.
PYTEST_WORKERS ?= 2
unit: $(VENV)/.installed $(VENV)/.cli-installed .venv-pipeline/.installed node_modules/.installed
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile

## lint: ruff, mypy, sam validate --lint (cfn-lint), checkov, ASL checks, IAM policies (parliament), sam build
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(SAM) validate --lint --template template.yaml --region $(AWS_DEFAULT_REGION)
	$(CHECKOV) --quiet --compact --framework cloudformation --file template.yaml
	$(PY) scripts/check_asl.py
	$(PY) scripts/check_iam.py
	$(MAKE) --no-print-directory build

## pipeline: rewrite pipeline/definition.json and its copy in template.yaml from pipeline/definition.py
pipeline: .venv-pipeline/.installed
	$(PIPELINE_PY) -m pipeline.definition

## publish: upload the pipeline's scripts and data to the stack's bucket (STACK=<stack name> [COMMIT=<sha>] [REPOSITORY=<url>])
publish: $(VENV)/.installed
	@test -n "$(STACK)" || { echo "usage: make publish STACK=<your stack name, e.g. churn-mlops> [COMMIT=<sha>] [REPOSITORY=<url>]"; exit 2; }
	$(PY) -m pipeline.publish --stack $(STACK) $(if $(COMMIT),--commit '$(COMMIT)') $(if $(REPOSITORY),--repository '$(REPOSITORY)')

build: .venv-sam/.installed
	$(SAM) build --template template.yaml --region $(AWS_DEFAULT_REGION)

## bench: one table: cold starts, packages, transitions, alarm-to-rollback, pipeline, drift, monthly cost (BENCH_* vars)
bench: $(VENV)/.installed .venv-sam/.installed .venv-pipeline/.installed
	$(MAKE) --no-print-directory build
	$(PY) scripts/bench.py

clean:
	rm -rf $(VENV) .venv-sam .venv-checkov .venv-pipeline node_modules .aws-sam .pytest_cache .mypy_cache .ruff_cache

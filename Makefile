# ecs-autopilot. `make demo` and `make test` work on a fresh clone with only Python 3.11+ (3.13 for
# `sam build`, see .python-version) and access to the package index: each installs what it needs.

# Python 3.13 when there is one (sam build targets python3.13), else python3 (3.11+ runs everything else).
PYTHON ?= $(shell command -v python3.13 >/dev/null 2>&1 && python3.13 -c 'import sys' 2>/dev/null && echo python3.13 || echo python3)
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP     := $(VENV)/.dev-installed

# sam build looks for python3.13 on PATH: the virtual environment provides it.
export PATH := $(BIN):$(PATH)
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test lint typecheck template build unit bench iam-report clean

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ecs-autopilot needs Python 3.11 or newer, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)

# the library and the command with its local AWS (the [cli] extra); the Lambda layer has only the library
$(RUNTIME_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e '.[cli]'
	@touch $@

$(DEV_STAMP): pyproject.toml $(RUNTIME_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[cli,dev]'
	@touch $@

demo: $(RUNTIME_STAMP)
	$(BIN)/autopilot demo

test: $(DEV_STAMP) lint typecheck template build unit

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy
	MYPYPATH=layers/autopilot:. $(BIN)/mypy --strict --follow-imports=silent tests/fakes.py tests/fakes_conform.py

template: $(DEV_STAMP)
	$(BIN)/sam validate --lint

build: $(DEV_STAMP)
	$(BIN)/sam build --parallel

unit: $(DEV_STAMP)
	$(BIN)/pytest

# build first: the layer's size is the one sam build made
bench: $(DEV_STAMP) build
	$(BIN)/python -m tests.bench.cold_start
	$(BIN)/python -m tests.bench.push_cost
	$(BIN)/python -m tests.bench.fanout
	$(BIN)/python -m tests.bench.reconcile
	$(BIN)/python -W ignore::UserWarning -m tests.bench.fault_sweep

# Each function's IAM role in template.yaml against what the tests' calls used of it (granted but unused,
# used but denied). The tests record it in .iam-usage.json whenever they run the emulator.
iam-report: $(DEV_STAMP)
	@test -f .iam-usage.json || $(BIN)/pytest tests/integration -q || test -f .iam-usage.json
	$(BIN)/python -m autopilot.local.iam_report

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis

# The two commands: `make demo` (the card lifecycle on the embedded AWS) and `make test`.
PYTHON ?= python3.11
VENV := .venv
SAMVENV := .venv-sam
PY := $(VENV)/bin/python
SAM := $(SAMVENV)/bin/sam
export PYTHONPATH := $(CURDIR)/layers/cardshare:$(CURDIR)/cli:$(CURDIR)/local
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1
# `make serve PORT=5001` where 5000 is taken (AirPlay on recent macOS).
PORT ?= 5000

.PHONY: demo test test-cloud unit integration e2e lint typecheck template build serve clean bench

$(VENV)/.installed: requirements/dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.txt
	# The operator CLI as a console script, `.venv/bin/cardshare` (editable: it runs this checkout).
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

$(SAMVENV)/.installed: requirements/sam.txt
	$(PYTHON) -m venv $(SAMVENV)
	$(SAMVENV)/bin/pip install --quiet --upgrade pip
	$(SAMVENV)/bin/pip install --quiet -r requirements/sam.txt
	touch $@

demo: $(VENV)/.installed
	$(PY) -m cardshare_local demo $(ARGS)

serve: $(VENV)/.installed
	$(PY) -m cardshare_local serve --port $(PORT)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

unit: $(VENV)/.installed
	$(PY) -m pytest tests/unit

integration: $(VENV)/.installed
	$(PY) -m pytest tests/integration

e2e: $(VENV)/.installed
	$(PY) -m pytest tests/e2e

# Template checks that need the SAM CLI (validate --lint, build) run with it on PATH. Each test
# process has its own embedded AWS, so tests run side by side (most of an e2e test is waiting).
# worksteal, not xdist's default load: load hands each worker a contiguous block of long e2e tests
# up front, so one worker finishes minutes after the others; stealing evens the tail out.
WORKERS ?= 4
test: $(VENV)/.installed $(SAMVENV)/.installed lint typecheck
	PATH="$(CURDIR)/$(SAMVENV)/bin:$$PATH" $(PY) -m pytest -n $(WORKERS) --dist worksteal tests

# Against a real deployed stack and real consumer accounts (minutes; not part of `make test`):
# AWS_SAM_STACK_NAME, CARDSHARE_DEV_PROFILE, CARDSHARE_TEST_PROFILE, CARDSHARE_PROD_PROFILE and optionally
# CARDSHARE_APPROVER_PROFILE; the model-card account's credentials as usual. See the README.
test-cloud: $(VENV)/.installed
	$(PY) -m pytest -m cloud tests/cloud

# Calls, transitions and time on the embedded AWS (minutes; not part of `make test`).
# `make bench ARGS=--quick` for a short run; results land in bench/results/.
bench: $(VENV)/.installed
	$(PY) -m bench $(ARGS)

clean:
	rm -rf $(VENV) $(SAMVENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache

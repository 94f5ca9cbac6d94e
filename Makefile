# Firebreak: `make drill` runs the sandboxed drill, `make test` the whole suite.
# Both build .venv on first use (Python 3.11+, PostgreSQL and Redis on localhost).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export PREFECT_HOME ?= $(CURDIR)/.prefect

.PHONY: drill test lint format bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is needed" or 0)'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The quick start's drill, through the `firebreak` CLI as an operator runs it:
# `make drill DRILL=crash-loop FIREBREAK_DRILL_KUBECONFIG=...` rehearses another scenario.
DRILL ?= db-pool-exhaustion

drill: $(STAMP)
	$(VENV)/bin/firebreak drill $(DRILL)

# Two workers, each with its own Prefect API; tests that share a fixed resource carry one
# xdist_group mark and run on one worker. TEST_WORKERS=0 runs everything in this process.
TEST_WORKERS ?= 2

test: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) .prefect .pytest_cache

bench: $(STAMP)
	$(PY) -m bench.record_append
	$(PY) -m bench.alert_storm
	$(PY) -m bench.trigger_latency
	$(PY) -m bench.assessment
	$(PY) -m bench.phase_overhead
	$(PY) -m bench.paused_incidents
	$(PY) -m bench.declaration_latency

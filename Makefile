# Two commands on a fresh machine (Python 3.11 and Node.js 20+):
#   make run    start Azurite, the connector on http://127.0.0.1:7071 and the local world (7072-7076)
#   make test   run the whole test suite (Azurite is started by the tests)
#   make fuzz   the fuzz suite with many examples (FUZZ_EXAMPLES=200), printing requests per route
PYTHON ?= python3
VENV := .venv
WORLD_PORT ?= 7072
PY := $(VENV)/bin/python

.PHONY: run test fuzz lint bench setup

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	touch $@

local.settings.json:
	cp local.settings.sample.json $@

run: setup local.settings.json
	$(PY) -m shared.devhost --azurite --world --world-port $(WORLD_PORT)

test: setup
	$(PY) -m pytest

fuzz: setup
	FUZZ_EXAMPLES=$(or $(FUZZ_EXAMPLES),200) $(PY) -m pytest tests/fuzz tests/e2e/test_config_schemathesis.py -q -p no:cacheprovider

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: setup
	$(PY) bench/cold_start.py
	$(PY) bench/pipeline.py
	$(PY) bench/timer.py

# Two commands: `make run` starts the whole system with demo data, `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint bench clean

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.test: requirements-test.txt $(VENV)/.runtime
	$(PY) -m pip install -q -r requirements-test.txt
	touch $@

run: $(VENV)/.runtime
	@scripts/ensure-system-packages.sh
	@HOST=$(HOST) PORT=$(PORT) PY=$(PY) scripts/run.sh

test: $(VENV)/.test
	scripts/ensure-system-packages.sh
	scripts/ensure-chromium.sh
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(VENV)/.runtime
	$(PY) benchmarks/lineage_query.py

clean:
	rm -rf var $(VENV)

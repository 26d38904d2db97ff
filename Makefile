# Two commands: `make run` starts the whole system with demo data, `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint bench bench-peers-venv clean

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
	$(VENV)/bin/lint-imports --no-cache

bench: $(VENV)/.runtime
	$(PY) benchmarks/lineage_query.py

# A separate venv with the peer tools the benchmarks compare against (navani, cellpy,
# impedance.py, NewareNDA on numpy<2/pandas<3); never used by the application or the tests.
PEERS_VENV ?= .venv-peers
bench-peers-venv: $(PEERS_VENV)/.installed
$(PEERS_VENV)/.installed: benchmarks/requirements-peers.txt
	test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install -q --upgrade pip
	$(PEERS_VENV)/bin/python -m pip install -q -r benchmarks/requirements-peers.txt
	touch $@

clean:
	rm -rf var $(VENV)

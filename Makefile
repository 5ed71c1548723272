# The two commands: `make run` (demo data + the report app) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8866

.PHONY: run test setup lab scheduler bench lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: setup
	$(BIN)/analytics demo-data --scale default --if-missing
	$(BIN)/analytics tiles --refresh --missing &  # the home page's first tiles, computed beside the starting app
	ANALYTICS_AMPLITUDE_URL=$(or $(ANALYTICS_AMPLITUDE_URL),demo) $(BIN)/analytics serve --port $(PORT)

lab: setup
	$(BIN)/analytics demo-data --scale default --if-missing
	$(BIN)/analytics lab

scheduler: setup
	$(BIN)/analytics demo-data --scale default --if-missing
	$(BIN)/analytics scheduler

# Test files run in parallel (pytest-xdist), each file on one worker: a file's app or server fixture is shared
# by its tests. Most of a test's time is waiting for a kernel or a server, so three workers fit two cores.
TEST_WORKERS ?= 3

test: setup
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=15

bench: setup
	$(BIN)/python benchmarks/foundation.py
	$(BIN)/python benchmarks/writes.py
	$(BIN)/python benchmarks/app_memory.py
	$(BIN)/python benchmarks/sharing.py
	$(BIN)/python benchmarks/audiences.py
	$(BIN)/python benchmarks/monitoring.py
	$(BIN)/python benchmarks/ab_summary.py
	$(BIN)/python benchmarks/scheduler.py

lint: setup
	$(BIN)/ruff check lib tests benchmarks

clean:
	rm -rf $(VENV) data reports/exports reports/runs

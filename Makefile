# The two commands: `make run` (demo data + the report app) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8866

.PHONY: run test setup setup-test setup-lab lab scheduler bench lint clean git-filter screenshots

# One line per step: the installer's output (uv, else pip) goes to .venv/pip-install*.log, a line per big wheel it
# fetches to the screen (lib/analytics/install_packages.py).
# `make run` installs only what the app needs; the suite's tools (`make test`) and JupyterLab (`make lab`) are
# added to the same .venv when first asked for.
setup: $(VENV)/.installed git-filter
setup-test: $(VENV)/.installed-test git-filter
setup-lab: $(VENV)/.installed-lab git-filter

$(VENV)/.installed: pyproject.toml
	@echo "Installing the app's packages…"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python lib/analytics/install_packages.py '.' $(VENV)/pip-install.log
	@$(BIN)/python -m compileall -q lib >/dev/null  # our own bytecode too (see install_packages.py)
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	@echo "Installing the test suite's packages…"
	@$(BIN)/python lib/analytics/install_packages.py '.[test,lab]' $(VENV)/pip-install-test.log
	@touch $@

$(VENV)/.installed-lab: $(VENV)/.installed
	@echo "Installing JupyterLab…"
	@$(BIN)/python lib/analytics/install_packages.py '.[lab]' $(VENV)/pip-install-lab.log
	@touch $@

# Outputs of notebooks under notebooks/ never reach a commit (a card number in an output would be a leak):
# .gitattributes sends them through nbstripout, configured here for this clone. `required` makes `git add`
# fail rather than let a notebook through unstripped when the filter's Python is gone (`make setup` again).
NBSTRIPOUT_PYTHON ?= $(CURDIR)/$(BIN)/python
git-filter:
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	  git config filter.nbstripout.clean '"$(NBSTRIPOUT_PYTHON)" -m nbstripout --keep-id' && \
	  git config filter.nbstripout.smudge cat && \
	  git config filter.nbstripout.required true && \
	  git config diff.ipynb.textconv '"$(NBSTRIPOUT_PYTHON)" -m nbstripout --keep-id -t' && \
	  echo "Notebook outputs: stripped before every commit (git filter nbstripout)"; fi

run: setup
	@$(BIN)/analytics demo-data --scale default --if-missing
	@$(BIN)/analytics tiles --refresh --missing &  # the home page's first tiles, computed beside the starting app
	@ANALYTICS_AMPLITUDE_URL=$(or $(ANALYTICS_AMPLITUDE_URL),demo) ANALYTICS_AMOCRM_URL=$(or $(ANALYTICS_AMOCRM_URL),demo) \
	  $(BIN)/analytics serve --port $(PORT)

lab: setup-lab
	@$(BIN)/analytics demo-data --scale default --if-missing
	@$(BIN)/analytics lab

# The home page and every report, run with its defaults on a copy of the demo store, as whole-page PNGs in
# reports/screenshots/ (home.png, <notebook>.png) and a table of pages, seconds and error lines.
screenshots: setup-test
	@$(BIN)/analytics demo-data --scale default --if-missing
	@$(BIN)/python -m analytics.screenshots $(if $(ONLY),--only $(ONLY))

scheduler: setup
	$(BIN)/analytics demo-data --scale default --if-missing
	$(BIN)/analytics scheduler

# Test files run in parallel (pytest-xdist), each file on one worker: a file's app or server fixture is shared
# by its tests. Three workers on two cores (four took 858 s against 754 s: the suite's kernels, browsers and servers
# keep both cores busy); the longest files start first (tests/conftest.py SLOW_FIRST, --no-loadscope-reorder).
TEST_WORKERS ?= 3

test: setup-test
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=15

bench: setup-test
	$(BIN)/python benchmarks/foundation.py
	$(BIN)/python benchmarks/writes.py
	$(BIN)/python benchmarks/app_memory.py
	$(BIN)/python benchmarks/sharing.py
	$(BIN)/python benchmarks/audiences.py
	$(BIN)/python benchmarks/monitoring.py
	$(BIN)/python benchmarks/ab_summary.py
	$(BIN)/python benchmarks/scheduler.py
	$(BIN)/python benchmarks/crm.py
	$(BIN)/python benchmarks/hygiene.py

lint: setup-test
	$(BIN)/ruff check lib tests benchmarks

clean:
	rm -rf $(VENV) data reports/exports reports/runs

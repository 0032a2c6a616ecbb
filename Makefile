# rlrec: two commands for a new user -- `make lab` and `make test`.
# Everything runs inside .venv, created on first use from pyproject.toml.

# The interpreter that creates .venv: python3.11 when it is on PATH, else python3 (checked below).
PYTHON ?= $(shell command -v python3.11 >/dev/null 2>&1 && echo python3.11 || echo python3)
VENV   := .venv
PY     := $(VENV)/bin/python
JUPYTER := $(VENV)/bin/jupyter
STAMP  := $(VENV)/.installed-stamp
SANITIZE := .ci/nbval_sanitize.cfg

# The same TensorFlow settings for `make execute` and `make test`, so stored outputs
# and CI outputs come from identical numerics (see rlrec_helpers/setup.py).
export TF_CPP_MIN_LOG_LEVEL := 2
export TF_ENABLE_ONEDNN_OPTS := 0
export PYTHONHASHSEED := 0
export PYDEVD_DISABLE_FILE_VALIDATION := 1

# pyproject.toml requires Python >=3.11,<3.13; say so before pip fails deep inside `pip install`.
# A shell command, not a call of `$(MAKE) python-check`: GNU make runs every recipe line that
# contains $(MAKE) even under `make -n`, so a dry run on a clean clone would create .venv.
PYTHON_CHECK = $(PYTHON) -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 13) else 1)' 2>/dev/null || \
	{ echo "rlrec needs Python 3.11 or 3.12 to create .venv, but PYTHON=$(PYTHON) is '$$($(PYTHON) -V 2>&1)'."; \
	  echo "Install Python 3.11 (with its venv module) and run e.g.: make test PYTHON=python3.11"; exit 1; }

NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
# `make execute NB=notebooks/02_bandits.ipynb` re-executes one notebook only.
NB ?= $(NOTEBOOKS)

.PHONY: help python-check install lock lab test test-unit test-notebooks test-browser site execute data benchmarks clean clean-all

help:
	@echo "make lab      create .venv, install, fetch data, open JupyterLab on notebooks/"
	@echo "make test     create .venv, install, fetch data, run unit tests and nbval on every notebook"
	@echo "make test-browser  drive the widget notebooks and the static site in Chromium (needs /usr/bin/chromium or RLREC_CHROMIUM)"
	@echo "make site     render the executed notebooks to a static offline HTML course in build/site/"
	@echo "make execute  re-execute notebooks in place, in order (NB=path for one)"
	@echo "make data     fetch the Open Bandit Dataset sample into data/open_bandit/"
	@echo "make benchmarks  print the benchmark tables"
	@echo "make lock     rewrite constraints.txt from .venv (after changing a version, then re-execute)"
	@echo "make clean    remove build outputs and caches (clean-all also removes .venv and data)"

CONSTRAINTS := constraints.txt

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@test -x $(PY) || { { $(PYTHON_CHECK); } && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install --quiet --upgrade pip
	@# constraints.txt: the exact versions that made the committed outputs (see `make lock`)
	$(PY) -m pip install --quiet -c $(CONSTRAINTS) -e ".[lab,test,browser]"
	@# JupyterLab >= 4.4 runs widget callbacks on a kernel subshell thread, where pyplot races
	@# and figures come out blank (jupyterlab/jupyterlab#19719); make test-browser checks this.
	@mkdir -p $(VENV)/share/jupyter/lab/settings
	@printf '%s\n' '{"@jupyterlab/apputils-extension:kernels-settings": {"commsOverSubshells": "disabled"}}' \
		> $(VENV)/share/jupyter/lab/settings/overrides.json
	@touch $(STAMP)

python-check:
	@$(PYTHON_CHECK)

install: $(STAMP)

# Pin .venv's versions as they are. Not `lock: install`: after a range in pyproject.toml was
# raised, install would first put the old pins back. The stamp is touched because .venv is what
# the new file describes.
lock:
	@test -x $(PY) || { echo "make lock needs .venv: run make install first"; exit 1; }
	$(PY) tools/lock_constraints.py --output $(CONSTRAINTS)
	@touch $(STAMP)

data: install
	$(PY) data/fetch.py fetch --if-missing

# Jupyter refuses to start as root (as in many containers) without --allow-root.
LAB_ROOT_FLAG := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root,)

lab: install data
	$(JUPYTER) lab --ServerApp.root_dir=notebooks $(LAB_ROOT_FLAG)

test: test-unit test-notebooks

# pytest exits 5 when it collects nothing; make treats any non-zero exit as failure.
test-unit: install data
	$(PY) -m pytest tests -q --ignore=tests/browser

test-notebooks: install data
	$(PY) -m pytest -q --nbval --nbval-current-env --nbval-sanitize-with $(SANITIZE) \
		--nbval-cell-timeout=1200 $(NOTEBOOKS)

# Real-browser tests: JupyterLab + Chromium for the widget notebooks, and the static site.
test-browser: install data site
	$(PY) -m pytest tests/browser -q

# Static, offline HTML course from the committed (executed) notebooks; nothing is re-executed.
site: install
	$(PY) tools/build_site.py build/site

# nbclient, as `jupyter nbconvert --execute --inplace`, but polling for each cell's reply in
# 1-second slices: see tools/execute_notebooks.py for the stall this avoids.
execute: install data
	$(PY) tools/execute_notebooks.py --timeout 1200 $(NB)

benchmarks: install data
	@for b in benchmarks/[!_]*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf build .pytest_cache .hypothesis *.egg-info
	find . -path ./.venv -prune -o -name __pycache__ -type d -print -exec rm -rf {} +
	find notebooks -name .ipynb_checkpoints -type d -prune -exec rm -rf {} +

clean-all: clean
	rm -rf $(VENV) data/open_bandit data/downloads

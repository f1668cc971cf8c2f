# thermogap: `make demo` runs the main job, `make test` runs the test suite.
# Both create .venv/ when missing and install everything (torch first, pinned to the CPU
# wheel 2.13.0: an open torch range would pull several GB of CUDA packages).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.thermogap-installed
TORCH_VERSION ?= 2.13.0
export OMP_NUM_THREADS ?= 2
export MKL_NUM_THREADS ?= 2

.PHONY: install demo test lint docs wheel-demo bench clean-data

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==$(TORCH_VERSION)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/thermogap demo

test: install
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check src tests examples
	$(VENV)/bin/mypy

# the documentation site (mkdocs-material + mkdocstrings) into site/, warnings are errors;
# `make test` builds it too (tests/docs/test_docs_build.py)
docs: install
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# `thermogap demo` from the built wheel in a fresh venv (not from the source tree); CI runs it
wheel-demo: install
	bash .ci/wheel_demo.sh $(PY) quick

# bench_speedup reads the models of the demo's store; bench_mlip reuses the test helpers
bench: demo
	@for b in benchmarks/bench_*.py; do echo "== $$b"; PYTHONPATH=tests/mlip $(PY) $$b || exit 1; done

clean-data:
	rm -rf thermogap-data

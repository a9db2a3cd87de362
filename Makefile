# Two commands do everything on a fresh Debian machine with Python 3.11: `make demo` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
PYTHON ?= $(shell command -v python3.11 || command -v python3)
STAMP  := $(VENV)/.installed

.PHONY: setup demo test test-fast hostile bench bench-cellprofiler check clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt scripts/setup-debian.sh scripts/setup-checkov.sh scripts/setup-duckdb-delta.sh
	bash scripts/setup-debian.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip wheel setuptools
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	bash scripts/setup-checkov.sh .venv-checkov  # checkov in its own venv (it downgrades networkx); tests/deploy
	bash scripts/setup-duckdb-delta.sh .venv-duckdb-delta  # DuckDB 1.5.5 + its delta extension; tests/cohort
	$(PY) -m labstream.phenomics.warm  # compile the numba kernels once (~25 s), cached beside the sources
	touch $(STAMP)

demo: setup
	$(VENV)/bin/labstream demo

test: setup
	$(PY) -m pytest -q -p no:cacheprovider -n 3 --dist loadfile  # 3 workers on 2 cores: many tests wait on servers

test-fast: setup
	$(PY) -m pytest -q -m "not slow and not chaos"

# the hostile-input corpus (issue 11): one line per case, then the totals; fails if any case fails
hostile: setup
	$(PY) -m labstream.testing.hostile

bench: setup
	$(PY) bench/stream.py
	$(PY) bench/phenomics.py
	$(PY) bench/genomics.py
	$(PY) bench/ops.py

# CellProfiler itself beside the phenomics bench, in its own venv (not part of setup, test or CI)
bench-cellprofiler: setup
	bash scripts/setup-cellprofiler.sh .venv-cellprofiler
	$(PY) bench/phenomics.py --cellprofiler

check: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

clean:
	rm -rf $(VENV) .labstream

#!/usr/bin/env bash
# Build the separate CellProfiler venv the phenomics bench compares against (bench/cellprofiler_engine.py).
# Not part of `make setup`/`make test`/CI: CellProfiler pins numpy<2 and scipy<1.11, and labstream never
# imports it. Usage: scripts/setup-cellprofiler.sh [VENV]   (default .venv-cellprofiler)
#
# Why this way: `pip install cellprofiler` (4.2.x) needs wxPython, which has no Linux wheels on PyPI and
# builds from source for a long time, plus python-javabridge. CellProfiler 5 is published as the
# `*-nightly` wheels; its core and library install with their own dependencies, and the app wheel is
# installed with --no-deps plus its headless runtime dependencies: wxPython (GUI only) and mysqlclient
# (ExportToDatabase to MySQL only; CellProfiler logs "MySQL could not be loaded" and carries on) are
# left out. Images are read with `-e imageio_reader`: the default Bio-Formats reader fetches jars from
# Maven at run time, which fails offline.
set -euo pipefail
VENV=${1:-.venv-cellprofiler}
CP=5.0.0.dev784
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip wheel setuptools
"$VENV/bin/pip" install -q "cellprofiler-core-nightly==$CP" "cellprofiler-library-nightly==$CP" \
    "centriole-nightly==$CP"
"$VENV/bin/pip" install -q --no-deps "cellprofiler-nightly==$CP"
"$VENV/bin/pip" install -q Jinja2 "sentry-sdk~=2.8.0" rapidfuzz "docutils==0.15.2" imageio joblib \
    Pillow tifffile six requests
"$VENV/bin/cellprofiler" --version

#!/usr/bin/env bash
# Build the small separate venv with DuckDB's signed `delta` extension, which the cohort tests read the
# cohort's Delta tables with (tests/cohort/test_cohort_duckdb_delta.py). Its own venv because the
# extension wheel on PyPI exists for duckdb 1.5.5 only and an extension loads only into its own DuckDB
# version (labstream's venv has duckdb 2.0.1; installing the wheel there would downgrade it). The
# extension is a file inside the wheel: `LOAD '<its path>'` (no download at run time). Idempotent.
# Usage: scripts/setup-duckdb-delta.sh [VENV]  (default .venv-duckdb-delta)
set -euo pipefail
VENV=${1:-.venv-duckdb-delta}
DUCKDB=1.5.5
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
if test -x "$VENV/bin/python" && "$VENV/bin/python" -c "import duckdb, duckdb_extension_delta; assert duckdb.__version__ == '$DUCKDB'" 2>/dev/null; then
    exit 0
fi
test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q "duckdb==$DUCKDB" "duckdb-extension-delta==$DUCKDB"
"$VENV/bin/python" -c "import duckdb; print('duckdb', duckdb.__version__, 'with the delta extension in', '$VENV')"

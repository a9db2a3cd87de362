#!/usr/bin/env bash
# Build the separate checkov venv the deploy tests scan the Helm chart and the Terraform with
# (tests/deploy/test_checkov.py). Its own venv because checkov pins networkx<3 (and others), which
# would downgrade what labstream's own venv needs (scikit-image). Idempotent: a venv that already has
# this checkov version is left as it is. Usage: scripts/setup-checkov.sh [VENV]  (default .venv-checkov)
set -euo pipefail
VENV=${1:-.venv-checkov}
CHECKOV=3.3.30
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
if test -x "$VENV/bin/checkov" && "$VENV/bin/checkov" --version 2>/dev/null | grep -qx "$CHECKOV"; then
    exit 0
fi
test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q "checkov==$CHECKOV"
"$VENV/bin/checkov" --version

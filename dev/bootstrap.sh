#!/usr/bin/env bash
# Creates the project virtualenv and installs the pinned development dependencies.
set -euo pipefail
python=${1:-python3.11}
venv=${2:-.venv}
command -v "$python" >/dev/null || { echo "error: $python not found; install Python 3.11 and rerun 'make setup'" >&2; exit 1; }
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
[ -x "$venv/bin/uv" ] || "$venv/bin/python" -m pip install -q uv
"$venv/bin/uv" pip install -q -p "$venv/bin/python" -r requirements/dev.lock
"$venv/bin/uv" pip install -q -p "$venv/bin/python" --no-deps -e .

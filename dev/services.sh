#!/usr/bin/env bash
# The local services on loopback (MariaDB, Trino, moto): dev/services.sh up|down|status [service...]
# The work is in dev/services.py, run by the project virtualenv (it uses pymysql and trino).
set -euo pipefail
home=$(cd "$(dirname "$0")/.." && pwd)
python=$home/.venv/bin/python
[ -x "$python" ] || { echo "error: $python not found; run 'make deps' first" >&2; exit 1; }
exec "$python" "$home/dev/services.py" "$@"

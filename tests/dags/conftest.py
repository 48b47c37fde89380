"""The DAG tests import the helper package the way Airflow does: dags/ on sys.path."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags"
if str(DAGS) not in sys.path:
    sys.path.insert(0, str(DAGS))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes minutes (airflow dags test, spark-submit on local-cluster)")

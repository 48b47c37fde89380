"""dev/load_tpch.py: TPC-H row counts per the specification, and reruns that replace, never append."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# TPC-H specification, SF0.01 (lineitem from the generator: it is not a formula of SF).
SF001_ROWS = {
    "lineitem": 60175, "orders": 15000, "part": 2000, "partsupp": 8000,
    "region": 5, "nation": 25, "supplier": 100, "customer": 1500,
}


def load_module():
    spec = importlib.util.spec_from_file_location("load_tpch", ROOT / "dev" / "load_tpch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_loader(*args: str) -> dict[str, int]:
    result = subprocess.run(
        [sys.executable, ROOT / "dev" / "load_tpch.py", "--sf", "0.01", *args],
        capture_output=True, text=True, check=False, env={**os.environ, "PYSPARK_JOBS_HOME": str(ROOT)},
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    rows = re.findall(r"tpch\.(\w+)\s+([\d,]+) rows\s+ok", result.stdout)
    return {table: int(count.replace(",", "")) for table, count in rows}


def test_expected_counts_follow_the_specification():
    loader = load_module()
    assert loader.expected_counts(0.01, 60175) == SF001_ROWS
    sf1 = loader.expected_counts(1, 6001215)
    assert (sf1["orders"], sf1["customer"], sf1["part"], sf1["partsupp"], sf1["supplier"]) == (
        1_500_000, 150_000, 200_000, 800_000, 10_000,
    )
    assert loader.sf_label(0.01) == "0.01"
    assert loader.sf_label(1.0) == "1"


@pytest.mark.services
def test_loading_twice_replaces_and_never_duplicates():
    assert run_loader() == SF001_ROWS  # loads, or finds SF0.01 loaded already
    assert run_loader("--force") == SF001_ROWS  # a real reload over the loaded tables
    assert run_loader() == SF001_ROWS  # the marker makes this one a no-op

"""What the chaos tests share: TPC-H SF0.01 as tpchgen-cli writes it.

They build their inputs from these files rather than reading the shared `tpch` tables, so
they hold whatever scale factor those tables are loaded at (a benchmark loads SF1).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import load_dev_script


@pytest.fixture(scope="session")
def tpch_sf001() -> Path:
    """The folder of tpchgen-cli's SF0.01 parquet files (generated once, as `make data` does)."""
    from common.settings import load_settings

    return load_dev_script("load_tpch").generate(0.01, load_settings().var / "cache" / "tpch")

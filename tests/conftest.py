"""One Spark session for the whole suite, wired to the local catalog like every run."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PYSPARK_JOBS_HOME", str(ROOT))
os.environ.setdefault("PYSPARK_JOBS_VAR", str(ROOT / "var"))


@pytest.fixture(scope="session")
def spark():
    from common.session import get_spark

    session = get_spark("pyspark-jobs tests", master="local[2]")
    session.conf.set("spark.sql.shuffle.partitions", "2")
    yield session
    session.stop()


@pytest.fixture
def scratch_db(spark):
    """A throwaway warehouse database, dropped afterwards."""
    name = f"pj_test_{uuid.uuid4().hex[:8]}"
    yield name
    spark.sql(f"DROP DATABASE IF EXISTS {name} CASCADE")

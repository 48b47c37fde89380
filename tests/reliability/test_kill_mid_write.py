"""A run killed with SIGKILL while it writes leaves the previous version of the partition in place.

The writer stages each output as a version readers do not see (a Hive table's new `run=<id>`
directory, an Iceberg table's unpublished snapshot) and publishes only after all are staged and
valid, so a kill before publishing leaves what readers see unchanged; the next run of the same
ds completes. A killed Hive run's directory stays behind, unpublished, for the table's retention
period (see docs/RELIABILITY.md): the next run keeps it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from common.contracts import HIVE
from common.io.hive import HiveFormat
from common.io.table_format import described
from pyspark_jobs.demo.daily_revenue import DailyRevenue
from tests.conftest import ROOT
from tests.helpers import partition_location

pytestmark = pytest.mark.services
DS = "1995-03-15"
TABLES = {t.name: t for t in DailyRevenue.outputs.values()}
RUN = [sys.executable, "-m", "common.cli", "run", "demo.daily_revenue", "--ds", DS, "--no-input-counts"]


def _run_to_completion(log: Path) -> None:
    with log.open("w") as out:
        result = subprocess.run(RUN, cwd=ROOT, env=dict(os.environ), stdout=out, stderr=subprocess.STDOUT, timeout=900)
    assert result.returncode == 0, log.read_text()[-3000:]


def _version(spark, table: str) -> str | None:
    """The published version of DS: a Hive partition's run= directory, an Iceberg table's snapshot."""
    return partition_location(spark, table, DS)


def _rows(spark, table: str) -> list[tuple]:
    spark.catalog.refreshTable(table)
    return sorted(tuple(r) for r in spark.table(table).where(f"ds = '{DS}'").collect())


def _lineage(spark, table: str) -> set[int]:
    """An Iceberg table's published snapshots (the current state's ancestors)."""
    return {r.snapshot_id for r in spark.sql(f"SELECT snapshot_id FROM {table}.history WHERE is_current_ancestor").collect()}


def _written(where: Path, fmt: str) -> set[str]:
    """What a writer has put down so far: run= directories of the ds (hive), data files (iceberg)."""
    if not where.is_dir():
        return set()
    if fmt == HIVE:
        return {p.name for p in where.iterdir() if p.name.startswith("run=")}
    return {os.path.join(top, f) for top, _, files in os.walk(where) for f in files}


def test_sigkill_while_writing_keeps_the_previous_version_and_the_next_run_completes(spark, tmp_path):
    _run_to_completion(tmp_path / "first.log")
    before = {t: (_version(spark, t), _rows(spark, t)) for t in TABLES}
    assert all(version and rows for version, rows in before.values())
    # where each writer puts its staged version down: the ds directory (hive), the data directory (iceberg)
    watched = {
        t: Path(urlparse(version).path).parent if TABLES[t].format == HIVE
        else Path(urlparse(described(spark, t)["Location"]).path) / "data"
        for t, (version, _) in before.items()
    }
    known = {t: _written(d, TABLES[t].format) for t, d in watched.items()}
    published = {t: _lineage(spark, t) for t in TABLES if TABLES[t].format != HIVE}

    with (tmp_path / "killed.log").open("w") as out:
        proc = subprocess.Popen(
            RUN, cwd=ROOT, env=dict(os.environ), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    staged: dict[str, set[str]] = {}
    deadline = time.monotonic() + 600
    try:
        while not staged:
            if proc.poll() is not None:
                log = (tmp_path / "killed.log").read_text()
                pytest.fail(f"the run ended before it was seen writing:\n{log[-3000:]}")
            assert time.monotonic() < deadline, "no output was seen being written within 10 minutes"
            staged = {t: new for t, d in watched.items() if (new := _written(d, TABLES[t].format) - known[t])}
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its Spark JVM: the group this test started
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    for table, (version, rows) in before.items():
        assert _version(spark, table) == version, f"{table} was published by the killed run"
        assert _rows(spark, table) == rows
    for table, lineage in published.items():
        assert _lineage(spark, table) == lineage, f"{table}: the killed run published a snapshot"
    killed = {t: {watched[t] / name for name in names} for t, names in staged.items() if TABLES[t].format == HIVE}
    for table, dirs in killed.items():
        assert all(d.name not in _version(spark, table) for d in dirs)  # on disk, but no partition points at it

    _run_to_completion(tmp_path / "next.log")
    for table, (version, rows) in before.items():
        assert _version(spark, table) != version
        assert _rows(spark, table) == rows  # same ds, same rows
    for table, dirs in killed.items():
        # kept for the table's retention period: the next run does not delete an unpublished version
        assert all(d.is_dir() for d in dirs), f"{table}: the next run deleted the killed run's directory"
        history = {v.run_id: v.current for v in HiveFormat().history(spark, TABLES[table], table, DS)}
        assert all(history.get(d.name.removeprefix("run=")) is False for d in dirs), history
        for d in dirs:  # the retention's end is tested in tests/common/io/test_warehouse.py; the lake is shared
            shutil.rmtree(d)

"""A run killed with SIGKILL while it writes leaves the previous version of the partition in place.

The writer stages each output in a new `run=<id>` directory and only then points the
partition at it, so a kill before the swap leaves the metastore unchanged; the next run of
the same ds completes. The killed run's staging directory stays behind as an orphan
(nothing points at it) until a write of the partition finds it older than the grace period
(see docs/RELIABILITY.md).
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

from tests.conftest import ROOT
from tests.helpers import partition_location

pytestmark = pytest.mark.services
DS = "1995-03-15"
TABLES = ("demo.revenue_by_segment", "demo.top_customers", "demo.revenue_by_shipmode")
RUN = [sys.executable, "-m", "common.cli", "run", "demo.daily_revenue", "--ds", DS, "--no-input-counts"]


def _run_to_completion(log: Path) -> None:
    with log.open("w") as out:
        result = subprocess.run(RUN, cwd=ROOT, env=dict(os.environ), stdout=out, stderr=subprocess.STDOUT, timeout=900)
    assert result.returncode == 0, log.read_text()[-3000:]


def _location(spark, table: str) -> str | None:
    return partition_location(spark, table, DS)


def _rows(spark, table: str) -> list[tuple]:
    spark.catalog.refreshTable(table)
    return sorted(tuple(r) for r in spark.table(table).where(f"ds = '{DS}'").collect())


def _versions(ds_dir: Path) -> set[str]:
    return {p.name for p in ds_dir.iterdir() if p.name.startswith("run=")} if ds_dir.is_dir() else set()


def test_sigkill_while_writing_keeps_the_previous_version_and_the_next_run_completes(spark, tmp_path):
    _run_to_completion(tmp_path / "first.log")
    before = {t: (_location(spark, t), _rows(spark, t)) for t in TABLES}
    assert all(rows for _, rows in before.values())
    ds_dirs = {t: Path(urlparse(loc).path).parent for t, (loc, _) in before.items()}
    known = {t: _versions(d) for t, d in ds_dirs.items()}

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
            assert time.monotonic() < deadline, "no new run= directory appeared within 10 minutes"
            staged = {t: new for t, d in ds_dirs.items() if (new := _versions(d) - known[t])}
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its Spark JVM: the group this test started
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    for table, (location, rows) in before.items():
        assert _location(spark, table) == location, f"{table} was swapped by the killed run"
        assert _rows(spark, table) == rows
    # the killed version is an orphan: on disk, but no partition points at it
    for table, names in staged.items():
        assert all(name not in _location(spark, table) for name in names)
        for name in names:
            # The writer removes such orphans only once older than ORPHAN_GRACE_S (24 h; a younger
            # one may be a concurrent run's), so the next run keeps them: the test removes its own.
            shutil.rmtree(ds_dirs[table] / name)

    _run_to_completion(tmp_path / "next.log")
    for table, (location, rows) in before.items():
        assert _location(spark, table) != location
        assert _rows(spark, table) == rows  # same ds, same rows

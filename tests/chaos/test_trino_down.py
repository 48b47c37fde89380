"""Trino down during a Trino-backed run (`pyspark-jobs run JOB --source trino`).

A Trino of the test's own would cost minutes of this machine's two cores, so the run is pointed
at a loopback port where nothing listens (PYSPARK_JOBS_TRINO_PORT, read when a run starts): the
same refused connection a stopped Trino gives. A run from the lake makes the previous versions of
demo.daily_revenue's three outputs (two Iceberg, one Hive).

What happens: the Trino reader fails before any Spark job, with one line naming the address and
the fix; exit 2; none of the three outputs changes.
"""

from __future__ import annotations

import uuid

import pytest

from common.cli import main
from common.environments import Environment
from common.registry import get_job
from common.settings import load_settings
from tests.chaos.faults import free_port, require_loopback
from tests.helpers import drop_qa_databases, partition_location

pytestmark = [pytest.mark.chaos, pytest.mark.services]

DS = "1995-03-15"


def _state(spark, tables: list[str]) -> dict[str, tuple[str, list[tuple]]]:
    return {t: (partition_location(spark, t, DS),
                sorted(tuple(r) for r in spark.table(t).where(f"ds = '{DS}'").collect())) for t in tables}


def test_trino_down_fails_a_trino_backed_run_in_one_line_and_publishes_nothing(spark, tmp_path, monkeypatch, capsys):
    require_loopback(load_settings().trino.host)
    monkeypatch.setenv("PYSPARK_JOBS_QA_ROOT", (tmp_path / "qa").as_uri())
    env = Environment("qa", f"chaos-{uuid.uuid4().hex[:8]}")
    tables = [env.output_name(t) for t in get_job("demo.daily_revenue").outputs.values()]
    run = ["run", "demo.daily_revenue", "--ds", DS, "--env", "qa", "--branch", env.branch, "--no-input-counts"]
    try:
        assert main(run) == 0  # the previous versions
        before = _state(spark, tables)
        assert all(location and rows for location, rows in before.values()), before

        port = free_port()  # closed again: nothing listens on it
        monkeypatch.setenv("PYSPARK_JOBS_TRINO_PORT", str(port))
        capsys.readouterr()
        assert main([*run, "--source", "trino", "--refresh"]) == 2  # --refresh: never from a local cache
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith(f"error: cannot reach Trino at 127.0.0.1:{port}: connection refused; "), err[-1]
        assert not any(line.startswith("Traceback") for line in err)
        assert _state(spark, tables) == before
    finally:
        drop_qa_databases(spark, env.branch)

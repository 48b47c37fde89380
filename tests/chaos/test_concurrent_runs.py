"""Many runs at once against the same output tables, as Airflow makes them with
max_active_runs above 1 or a backfill: separate driver processes, one shared metastore.

demo.daily_revenue writes two Iceberg tables and one Hive-style parquet table, so each
scenario covers both formats. The runs are a qa branch's (their own databases), and the
expected figures come from plain SQL over the TPC-H tables, not from the job's code:
per ds, the lines shipped that day (the sum of `lines` by ship mode), the orders they belong
to (the sum of `orders` by nation and segment; an order has one customer, so one group), and
the customers who received them (top_customers holds min(10, that many) rows).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from common.environments import Environment
from tests.conftest import ROOT
from tests.helpers import data_files, partition_location

pytestmark = [pytest.mark.chaos, pytest.mark.services]

# 16 consecutive ship dates with shipments at SF0.01, and one more run first, left alone.
DAYS = [f"1995-03-{d:02d}" for d in range(1, 17)]
OTHER = "1995-02-20"
TABLES = ("revenue_by_segment", "top_customers", "revenue_by_shipmode")
RUN_TIMEOUT_S = 900


def _run(ds: str, branch: str) -> subprocess.CompletedProcess:
    # 16 JVMs on two cores: C1 only and one GC thread halve the wall time of the batch (4 runs at
    # once here: 89 s with the JVM's defaults, 46 s with these).
    env = {**os.environ, "PYSPARK_JOBS_MASTER": "local[1]", "PYSPARK_JOBS_DRIVER_MEMORY": "768m",
           "PYSPARK_JOBS_SPARK_LOG_LEVEL": "ERROR", "PYSPARK_JOBS_JAVA_OPTIONS": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"}
    return subprocess.run(
        [sys.executable, "-m", "common.cli", "run", "demo.daily_revenue", "--ds", ds, "--env", "qa",
         "--branch", branch, "--no-input-counts"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
    )


def _cause(stderr: str) -> list[str]:
    """The lines of a failed run's stderr that say what went wrong (not the stack frames)."""
    said = [line for line in stderr.splitlines() if re.search(r"(Exception|Error)\b[:(]|^error: ", line)
            and not line.startswith(("\t", " "))]
    return said[-3:] or stderr.strip().splitlines()[-1:]


def _expected(spark, days: list[str]) -> dict[str, dict[str, int]]:
    in_list = ", ".join(f"DATE'{d}'" for d in days)
    rows = spark.sql(
        "SELECT CAST(l_shipdate AS STRING) AS ds, COUNT(*) AS lines, COUNT(DISTINCT l_orderkey) AS orders, "
        "COUNT(DISTINCT o_custkey) AS customers FROM tpch.lineitem JOIN tpch.orders ON l_orderkey = o_orderkey "
        f"WHERE l_shipdate IN ({in_list}) GROUP BY l_shipdate"
    ).collect()
    return {r.ds: {"lines": r.lines, "orders": r.orders, "top": min(10, r.customers)} for r in rows}


def _actual(spark, prefix: str, days: list[str]) -> dict[str, dict[str, int]]:
    days_sql = ", ".join(f"'{d}'" for d in days)
    found: dict[str, dict[str, int]] = {d: {} for d in days}
    for figure, sql in (
        ("lines", f"SELECT ds, SUM(lines) AS n FROM {prefix}demo.revenue_by_shipmode WHERE ds IN ({days_sql}) GROUP BY ds"),
        ("orders", f"SELECT ds, SUM(orders) AS n FROM {prefix}demo.revenue_by_segment WHERE ds IN ({days_sql}) GROUP BY ds"),
        ("top", f"SELECT ds, COUNT(*) AS n FROM {prefix}demo.top_customers WHERE ds IN ({days_sql}) GROUP BY ds"),
    ):
        for row in spark.sql(sql).collect():
            found[row.ds][figure] = row.n
    return found


@pytest.fixture(scope="module")
def branch(spark):
    """A qa namespace whose tables exist, as a daily job's do, holding one day (OTHER) no test writes."""
    name = f"chaos/concurrent-{uuid.uuid4().hex[:6]}"
    env = Environment("qa", name)
    first = _run(OTHER, name)
    assert first.returncode == 0, first.stderr[-3000:]
    yield name, env.qa_prefix
    spark.sql(f"DROP DATABASE IF EXISTS {env.qa_prefix}demo CASCADE")


def test_sixteen_runs_for_sixteen_days_at_once_publish_every_partition_and_touch_no_other(spark, branch):
    name, prefix = branch
    other = {t: partition_location(spark, f"{prefix}demo.{t}", OTHER) for t in TABLES}
    other_rows = {t: spark.table(f"{prefix}demo.{t}").where(f"ds = '{OTHER}'").count() for t in TABLES}

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(DAYS)) as pool:
        done = dict(zip(DAYS, pool.map(lambda ds: _run(ds, name), DAYS)))
    seconds = time.monotonic() - started
    failed = {ds: _cause(r.stderr) for ds, r in done.items() if r.returncode != 0}
    assert not failed, f"runs that failed: {failed}"

    for table in TABLES:
        spark.catalog.refreshTable(f"{prefix}demo.{table}")
    assert _actual(spark, prefix, DAYS) == _expected(spark, DAYS)
    # No lost metastore update: every partition of the Hive table is registered.
    listed = {r[0] for r in spark.sql(f"SHOW PARTITIONS {prefix}demo.revenue_by_shipmode").collect()}
    assert {f"ds={d}" for d in [*DAYS, OTHER]} <= listed
    # The partition no run wrote kept its version and its rows.
    assert {t: spark.table(f"{prefix}demo.{t}").where(f"ds = '{OTHER}'").count() for t in TABLES} == other_rows
    for table in ("revenue_by_shipmode",):  # a Hive partition's version is its own: Iceberg's is the table's
        assert partition_location(spark, f"{prefix}demo.{table}", OTHER) == other[table]
    print(f"16 concurrent runs: {seconds:.0f}s")


def test_two_runs_of_the_same_day_at_once_leave_one_complete_version(spark, branch):
    """The tables exist, as a daily job's do: the race is over the day's partition. (Not over
    creating the tables: the local metastore's schema, made by DataNucleus without its unique
    constraints, lets two CREATEs of one Hive table both succeed, which a metastore made by
    Hive's schematool, or Glue, refuses; the writer then takes the other run's table.) The day
    may hold a version already (the test above wrote it): the two runs replace it, as reruns."""
    name, prefix = branch
    ds = DAYS[0]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: _run(ds, name), range(2)))
    codes = sorted(r.returncode for r in results)
    assert codes[0] == 0, [r.stderr[-2000:] for r in results]
    for result in results:
        if result.returncode:
            last = result.stderr.strip().splitlines()[-1]
            assert result.returncode == 2 and last.startswith("error: ") and "Traceback" not in result.stderr, last
    for table in TABLES:
        spark.catalog.refreshTable(f"{prefix}demo.{table}")
    # Exactly one run's rows: a mix of the two versions would count each line twice.
    assert _actual(spark, prefix, [ds]) == _expected(spark, [ds])
    hive = partition_location(spark, f"{prefix}demo.revenue_by_shipmode", ds)
    assert hive is not None and "/run=" in hive
    run_dir = hive.rstrip("/").rsplit("/", 1)[1]
    files = data_files(spark, f"{prefix}demo.revenue_by_shipmode", ds)
    assert files and {f.rsplit("/", 2)[1] for f in files} == {run_dir}, "the partition reads one run's directory"

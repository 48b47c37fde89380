"""A backfill: `run JOB --ds-from A --ds-to B` computes 30 days of a job over TPC-H in one
Spark application, each day its own published version: every partition equals the reports
computed by hand from the source rows (which a single-day run is tested to equal, in
test_runner.py), and the first, a middle and the last equal single-day runs of this session.

The job is the demonstration job: its reports are of the lines shipped on ds (the TPC-H
queries take their dates as params, so their partitions would not differ by day), and it
writes a Hive and an Iceberg table and joins MySQL, so the range covers every path."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import date, timedelta

import pytest
from pyspark.sql import functions as F

from common.environments import Environment
from common.registry import get_job
from common.runner import RunConfig, run_job
from common.settings import load_settings
from tests.conftest import ROOT
from tests.helpers import demo_reports_by_hand, demo_reports_published, drop_qa_databases

pytestmark = [pytest.mark.services, pytest.mark.slow]

JOB = "demo.daily_revenue"
FIRST = date(1995, 3, 1)
DAYS = [(FIRST + timedelta(days=i)).isoformat() for i in range(30)]
SINGLE_DAYS = [DAYS[0], DAYS[14], DAYS[-1]]
RANGE_BRANCH, SINGLE_BRANCH = "test/backfill-range", "test/backfill-single"


@pytest.fixture(scope="module")
def runs(spark):
    """The backfill as a process of its own and, meanwhile, single-day runs in this session:
    both in their own qa namespaces."""
    for branch in (RANGE_BRANCH, SINGLE_BRANCH):
        drop_qa_databases(spark, branch)
    started = time.time()
    backfill = subprocess.Popen(
        [sys.executable, "-m", "common.cli", "run", JOB, "--ds-from", DAYS[0], "--ds-to", DAYS[-1],
         "--env", "qa", "--branch", RANGE_BRANCH, "--no-input-counts"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        singles = [run_job(RunConfig(job=JOB, ds=ds, env="qa", branch=SINGLE_BRANCH, count_inputs=False), spark)
                   for ds in SINGLE_DAYS]
        out, err = backfill.communicate(timeout=900)
    finally:
        backfill.kill()
    assert backfill.returncode == 0, err[-3000:]
    yield out, err, singles, started
    for branch in (RANGE_BRANCH, SINGLE_BRANCH):
        drop_qa_databases(spark, branch)


def _outputs(branch: str) -> list[str]:
    return [Environment("qa", branch).output_name(table) for table in get_job(JOB).outputs.values()]


def test_thirty_days_are_one_application_each_day_its_own_version(runs):
    out, err, _, started = runs
    summaries = []
    for path in (load_settings().var / "logs" / "runs").glob(f"summary-{JOB}-*.json"):
        if path.stat().st_mtime < started:
            continue
        summary = json.loads(path.read_text())
        if summary["env"] == f"qa/{Environment('qa', RANGE_BRANCH).slug}" and summary["ds"] in DAYS:
            summaries.append(summary)
    by_day = {s["ds"]: s for s in summaries}
    assert sorted(by_day) == DAYS
    assert len({s["application_id"] for s in summaries}) == 1  # one Spark application for the range
    # Each day published as its own version of the three outputs (a run id names a run's versions).
    assert all(len(s["outputs"]) == 3 and len({o["run_id"] for o in s["outputs"]}) == 1 for s in summaries)
    assert len({s["outputs"][0]["run_id"] for s in summaries}) == 30
    assert f"{JOB} ds={DAYS[0]}..{DAYS[-1]}" in out and out.count("  ds=") == 30
    # Progress per partition: done/total, rows, elapsed.
    progress = [line for line in err.splitlines() if f"{JOB} backfill: ds=" in line]
    assert len(progress) == 30 and "done, 30 of 30 partitions" in progress[-1]


def test_every_partition_equals_the_reports_computed_by_hand(spark, runs):
    expected = demo_reports_by_hand(spark, DAYS)
    got = demo_reports_published(spark, Environment("qa", RANGE_BRANCH))
    for report, days in got.items():
        assert sorted(days) == DAYS, report
        assert {ds: days[ds] for ds in DAYS} == {ds: expected[ds][report] for ds in DAYS}, report
    # Each day reports its own shipments: 30 different answers were compared, not one 30 times.
    assert len({str(expected[ds]["top"]) for ds in DAYS}) == 30


def test_partitions_equal_single_day_runs(spark, runs):
    singles = runs[2]
    assert [s.ds for s in singles] == SINGLE_DAYS
    for ranged_name, single_name in zip(_outputs(RANGE_BRANCH), _outputs(SINGLE_BRANCH)):
        ranged = spark.table(ranged_name).where(F.col("ds").isin(SINGLE_DAYS))
        single = spark.table(single_name)
        assert single.count() > 0, single_name
        assert ranged.exceptAll(single).count() == 0 and single.exceptAll(ranged).count() == 0, ranged_name


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ds-from", "1996-02-01", "--ds-to", "1996-01-01"],
         "error: --ds-from 1996-02-01 is after --ds-to 1996-01-01: give the earlier day first"),
        (["--ds-from", "1996-01-01", "--ds-to", "1997-01-01"],
         "error: --ds-from 1996-01-01 --ds-to 1997-01-01 spans 367 days, more than 366: narrow the range, "
         "or add --force"),
        (["--ds", "1996-01-01", "--ds-to", "1996-01-05"], "error: give --ds YYYY-MM-DD, or --ds-from and --ds-to"),
        (["--ds-from", "1996-01-01"], "error: a range takes both --ds-from and --ds-to"),
        (["--ds", "1996-01-01", "--force"], "error: --force allows a range over many days"),
        (["--ds-from", "1996-01-01", "--ds-to", "1996-02-30"], "error: ds '1996-02-30' is not a calendar date"),
    ],
)
def test_a_bad_range_is_one_line_and_starts_nothing(args, message):
    done = subprocess.run([sys.executable, "-m", "common.cli", "run", JOB, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().startswith(message), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1  # refused before Spark started: no Spark log either

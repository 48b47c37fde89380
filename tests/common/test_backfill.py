"""A backfill: `run JOB --ds-from A --ds-to B` computes 30 days of a job over TPC-H in one
Spark application and, the job being a range_plan job, in one plan: the inputs are read once
for the whole range (one Spark SQL execution scans lineitem, where each single-day run scans it
again) and each day is published as its own version. Every partition equals the reports
computed by hand from the source rows (which a single-day run is tested to equal, in
test_runner.py), and the first, a middle and the last equal single-day runs of this session.

The job is the demonstration job: its reports are of the lines shipped on ds (the TPC-H
queries take their dates as params, so their partitions would not differ by day), and it
writes a Hive and an Iceberg table and joins MySQL, so the range covers every path. A
range_plan job whose output lacks ds, or holds rows of a day outside the range, fails in one
line naming the job, the output and the fix, before anything is published."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from common.environments import Environment
from common.errors import ContractViolation
from common.job import step
from common.registry import get_job
from common.runner import RunConfig, RunSummary, run_job, run_range
from common.settings import load_settings
from pyspark_jobs.demo import transforms as demo
from pyspark_jobs.demo.daily_revenue import DailyRevenue
from tests.conftest import ROOT
from tests.helpers import demo_reports_by_hand, demo_reports_published, drop_qa_databases, sql_executions

pytestmark = [pytest.mark.services, pytest.mark.slow]

JOB = "demo.daily_revenue"
FIRST = date(1995, 3, 1)
DAYS = [(FIRST + timedelta(days=i)).isoformat() for i in range(30)]
SINGLE_DAYS = [DAYS[0], DAYS[14], DAYS[-1]]
RANGE_BRANCH, SINGLE_BRANCH, BAD_BRANCH = "test/backfill-range", "test/backfill-single", "test/backfill-bad"
LINEITEM_SCAN = "Scan parquet spark_catalog.tpch.lineitem"
ROWS = "number of output rows"


@dataclass
class Runs:
    out: str  # the backfill's standard output and error
    err: str
    singles: list[RunSummary]
    single_scans: list[int]  # this session's SQL executions that read lineitem rows for the single-day runs
    started: float
    event_log: Path  # the backfill application's Spark event log
    lineage: Path  # its OpenLineage events


@pytest.fixture(scope="module")
def runs(spark, tmp_path_factory):
    """The backfill as a process of its own (its Spark event log and lineage events in folders of
    their own) and, meanwhile, single-day runs in this session: both in their own qa namespaces."""
    for branch in (RANGE_BRANCH, SINGLE_BRANCH):
        drop_qa_databases(spark, branch)
    event_log, lineage = tmp_path_factory.mktemp("backfill-event-log"), tmp_path_factory.mktemp("backfill-lineage")
    env = {key: value for key, value in os.environ.items() if not key.startswith("OPENLINEAGE")}
    env["PYSPARK_SUBMIT_ARGS"] = (f"--conf spark.eventLog.enabled=true --conf spark.eventLog.dir={event_log.as_uri()} "
                                  "pyspark-shell")
    env["PYSPARK_JOBS_LINEAGE_URL"] = lineage.as_uri()
    started = time.time()
    backfill = subprocess.Popen(
        [sys.executable, "-m", "common.cli", "run", JOB, "--ds-from", DAYS[0], "--ds-to", DAYS[-1],
         "--env", "qa", "--branch", RANGE_BRANCH],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        since = max((e["id"] for e in sql_executions(spark)), default=-1) + 1
        singles = [run_job(RunConfig(job=JOB, ds=ds, env="qa", branch=SINGLE_BRANCH, count_inputs=False), spark)
                   for ds in SINGLE_DAYS]
        single_scans = _reading_lineitem(sql_executions(spark), since)
        out, err = backfill.communicate(timeout=900)
    finally:
        backfill.kill()
    assert backfill.returncode == 0, err[-3000:]
    yield Runs(out, err, singles, single_scans, started, event_log, lineage)
    for branch in (RANGE_BRANCH, SINGLE_BRANCH):
        drop_qa_databases(spark, branch)


def _number(text: str) -> int:
    return int(str(text).replace(",", "").split()[0])


def _reading_lineitem(executions: list[dict], since: int) -> list[int]:
    """The executions from `since` whose lineitem scan read rows. A scan inside a cached step
    shows again in every execution that reads the cache, with 0 rows: it is not read again."""
    return [e["id"] for e in executions if e["id"] >= since and any(
        node["nodeName"] == LINEITEM_SCAN and any(m["name"] == ROWS and _number(m["value"]) for m in node["metrics"])
        for node in e["nodes"])]


def _reading_lineitem_logged(folder: Path) -> set[int]:
    """The same from the Spark event log of the one application in `folder`: the SQL executions
    whose tasks updated the rows metric of a lineitem scan (the plans name each node's metric
    ids; a task's end lists the metrics it updated, and its stage's job names its execution)."""
    (log_file,) = folder.iterdir()
    events = [json.loads(line) for line in log_file.read_text().splitlines()]
    metrics: set[int] = set()
    execution_of_stage: dict[int, int] = {}
    reading: set[int] = set()

    def visit(node: dict) -> None:
        if node["nodeName"] == LINEITEM_SCAN:
            metrics.update(m["accumulatorId"] for m in node["metrics"] if m["name"] == ROWS)
        for child in node["children"]:
            visit(child)

    # An execution's start, and its adaptive re-plans: logged after the stages they describe ran.
    for event in events:
        if "sparkPlanInfo" in event:
            visit(event["sparkPlanInfo"])
    for event in events:
        if event["Event"] == "SparkListenerJobStart":
            execution = (event.get("Properties") or {}).get("spark.sql.execution.id")
            if execution is not None:
                execution_of_stage.update(dict.fromkeys(event["Stage IDs"], int(execution)))
        elif event["Event"] == "SparkListenerTaskEnd":
            updated = [a for a in event["Task Info"].get("Accumulables", []) if a["ID"] in metrics]
            if any(_number(a.get("Update", 0)) for a in updated):
                reading.add(execution_of_stage[event["Stage ID"]])
    return reading


def _summaries(runs: Runs) -> dict[str, dict]:
    """The backfill's JSON summaries, by ds."""
    summaries = {}
    for path in (load_settings().var / "logs" / "runs").glob(f"summary-{JOB}-*.json"):
        if path.stat().st_mtime < runs.started:
            continue
        summary = json.loads(path.read_text())
        if summary["env"] == f"qa/{Environment('qa', RANGE_BRANCH).slug}" and summary["ds"] in DAYS:
            summaries[summary["ds"]] = summary
    return summaries


def _outputs(branch: str, job: str = JOB) -> list[str]:
    return [Environment("qa", branch).output_name(table) for table in get_job(job).outputs.values()]


def test_thirty_days_are_one_application_each_day_its_own_version(runs):
    by_day = _summaries(runs)
    assert sorted(by_day) == DAYS
    summaries = list(by_day.values())
    assert len({s["application_id"] for s in summaries}) == 1  # one Spark application for the range
    # Each day published as its own version of the three outputs (a run id names a run's versions).
    assert all(len(s["outputs"]) == 3 and len({o["run_id"] for o in s["outputs"]}) == 1 for s in summaries)
    assert len({s["outputs"][0]["run_id"] for s in summaries}) == 30
    assert all(o["partition"] == f"ds={s['ds']}" for s in summaries for o in s["outputs"])
    assert f"{JOB} ds={DAYS[0]}..{DAYS[-1]}" in runs.out and runs.out.count("  ds=") == 30
    # Progress per partition: done/total, rows, elapsed.
    progress = [line for line in runs.err.splitlines() if f"{JOB} backfill: ds=" in line]
    assert len(progress) == 30 and "done, 30 of 30 partitions" in progress[-1]


def test_the_range_is_one_plan_that_reads_lineitem_once(runs):
    """One Spark SQL execution of the whole backfill read lineitem (caching the shared join of
    the 30 days); every single-day run reads it again, once per day."""
    assert len(_reading_lineitem_logged(runs.event_log)) == 1
    assert len(runs.single_scans) == len(SINGLE_DAYS)


def test_the_ranges_one_read_is_counted_on_its_first_day(spark, runs):
    """Each day's summary counts the scans of its own work, so the figures add up to what the
    range read: all of it on the first day, where the inputs were read into the cached join;
    nothing on the others, whose writes read the cache. Each day's note says so."""
    by_day = _summaries(runs)
    read = {ds: {i["alias"]: i["rows_read"] for i in s["inputs"]} for ds, s in by_day.items()}
    assert read[DAYS[0]]["lineitem"] == spark.table("tpch.lineitem").count()
    assert read[DAYS[0]]["orders"] == spark.table("tpch.orders").count()
    assert all(rows == 0 for ds in DAYS[1:] for rows in read[ds].values()), read
    assert [c["step"] for c in by_day[DAYS[0]]["cached"]] == ["enriched"]
    assert not any(by_day[ds]["cached"] for ds in DAYS[1:])
    assert "that one read" in by_day[DAYS[0]]["notes"][0]
    assert f"counted in the summary of ds={DAYS[0]}" in by_day[DAYS[1]]["notes"][0]
    # OpenLineage: each day a run of its own, its COMPLETE carrying the same figures
    events = [json.loads(line) for path in runs.lineage.iterdir() for line in path.read_text().splitlines()]
    ours = [e for e in events if e["job"]["name"] == JOB]
    complete = {e["run"]["facets"]["pysparkJobs"]["ds"]: e for e in ours if e["eventType"] == "COMPLETE"}
    assert sorted(complete) == DAYS and len({e["run"]["runId"] for e in ours}) == 30
    assert sum(e["eventType"] == "START" for e in ours) == 30
    lineitem = [next(d for d in complete[ds]["inputs"] if d["name"] == "tpch.lineitem") for ds in DAYS]
    assert [d["inputFacets"]["inputStatistics"]["rowCount"] for d in lineitem] == [read[ds]["lineitem"] for ds in DAYS]


def test_every_partition_equals_the_reports_computed_by_hand(spark, runs):
    expected = demo_reports_by_hand(spark, DAYS)
    got = demo_reports_published(spark, Environment("qa", RANGE_BRANCH))
    for report, days in got.items():
        assert sorted(days) == DAYS, report
        assert {ds: days[ds] for ds in DAYS} == {ds: expected[ds][report] for ds in DAYS}, report
    # Each day reports its own shipments: 30 different answers were compared, not one 30 times.
    assert len({str(expected[ds]["top"]) for ds in DAYS}) == 30


def test_partitions_equal_single_day_runs(spark, runs):
    assert [s.ds for s in runs.singles] == SINGLE_DAYS
    for ranged_name, single_name in zip(_outputs(RANGE_BRANCH), _outputs(SINGLE_BRANCH)):
        ranged = spark.table(ranged_name).where(F.col("ds").isin(SINGLE_DAYS))
        single = spark.table(single_name)
        assert single.count() > 0, single_name
        assert ranged.exceptAll(single).count() == 0 and single.exceptAll(ranged).count() == 0, ranged_name


# -- a range_plan job misused ------------------------------------------------------------


def shipmode_a_day_late(enriched):
    report = demo.revenue_by_shipmode(enriched)
    return report.withColumn("ds", F.date_add(F.to_date("ds"), 1).cast("string"))


class ADayLate(DailyRevenue):
    """Dates its ship-mode rows a day late: the range's last day spills past it."""

    name = "tests.backfill.a_day_late"

    def steps(self, p):
        return {**super().steps(p), "revenue_by_shipmode": step(shipmode_a_day_late, "enriched")}


def top_customers_without_ds(enriched, *, top_n):
    return demo.top_customers(enriched, top_n=top_n).drop("ds")


class NoDs(DailyRevenue):
    name = "tests.backfill.no_ds"

    def steps(self, p):
        return {**super().steps(p), "top_customers": step(top_customers_without_ds, "enriched", top_n=p.top_n)}


@pytest.fixture
def bad_branch(spark):
    drop_qa_databases(spark, BAD_BRANCH)
    yield BAD_BRANCH
    drop_qa_databases(spark, BAD_BRANCH)


@pytest.mark.parametrize(
    ("job", "run", "message"),
    [
        (ADayLate, lambda config: run_range(config, DAYS[:2]),
         "demo.revenue_by_shipmode: 1 contract violation(s): job tests.backfill.a_day_late declares range_plan, but "
         f"output revenue_by_shipmode holds rows of ds=1995-03-03, outside the run's days {DAYS[0]}..{DAYS[1]} "
         "(nothing was published): carry each row's own day as ds"),
        (NoDs, run_job,
         "demo.top_customers: 1 contract violation(s): job tests.backfill.no_ds declares range_plan, but output "
         "top_customers has no ds column (nothing was written): carry each row's own day as ds"),
    ],
)
def test_a_misused_range_plan_is_one_line_and_publishes_nothing(spark, bad_branch, caplog, job, run, message):
    config = RunConfig(job=job.name, ds=DAYS[0], env="qa", branch=bad_branch, count_inputs=False)
    with caplog.at_level(logging.INFO, logger="common.runner"), pytest.raises(ContractViolation) as err:
        run(config)
    assert str(err.value).startswith(message) and "\n" not in str(err.value), str(err.value)
    assert "from inputs filtered to p.days" in str(err.value)
    assert not any(spark.catalog.tableExists(table) for table in _outputs(bad_branch, job.name))
    if job is ADayLate:
        assert f"stopped at ds={DAYS[0]} after 0 of 2 partitions (nothing after it); resume with --ds-from {DAYS[0]} " \
               f"--ds-to {DAYS[1]}" in caplog.text


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

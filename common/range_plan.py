"""Running a `range_plan` job: one plan for every day of a range, each day published on its own.

A range_plan job's steps compute every day of `p.days` at once, each output row carrying its
`ds`. The run plans once for all the days (the inputs read and the shared steps cached once
for the whole range), checks that every output row belongs to one of the days, then publishes
the days in order, each as its own version through the warehouse writer (an output's rows of
that ds), each with its own summary, JSON file and lineage run: a backfill that stops keeps the
days before it. A one-day run is the same with one day.

Input rows: the inputs are read once for the range, while its shared steps are cached. Each
day's summary (and lineage COMPLETE event) counts the scans of its own work, so the figures add
up to what the range read: the first day's hold the range's one read of the inputs (and what
its own writes read again), a later day's only what its writes read again (nothing, when the
outputs come from a cached step). A note on each day of a range says so.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING, Iterator, Sequence

from common.errors import ContractViolation
from common.runner import (
    Plan,
    Progress,
    RunConfig,
    RunSummary,
    cache_shared_steps,
    count_input_rows,
    days_label,
    env_label,
    finish,
    plan_job,
    release_shared_steps,
)
from common.scan_metrics import DAYS_CHECK, ScanMetrics

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from common.lineage_events import RunLineage

__all__ = ["run_days", "check_ds_columns", "check_days"]

_FIX = "carry each row's own day as ds (string YYYY-MM-DD) through the steps, from inputs filtered to p.days"


def run_days(config: RunConfig, days: Sequence[str], spark: SparkSession | None = None) -> Iterator[RunSummary]:
    """The range_plan job `config.job` planned once for `days`, then each day published in
    order: its summary as each is done. Each day is a run of its own for OpenLineage (START,
    then COMPLETE or FAIL); a failure before the first day is published is the first day's."""
    from common.lineage_events import RunLineage

    run = _RangeRun(config, list(days))
    lineage = RunLineage(replace(config, ds=days[0]))
    try:
        try:
            run.prepare(spark, lineage)
        except BaseException as exc:
            lineage.fail(exc)
            raise
        for ds in run.days:
            if ds != run.days[0]:
                lineage = RunLineage(replace(config, ds=ds))
                lineage.validated = True
                lineage.start(run.plan, run.spark)
            try:
                summary = run.publish(ds)
            except BaseException as exc:
                lineage.fail(exc)
                raise
            lineage.complete(summary)
            yield summary
    finally:
        run.release()


def check_ds_columns(plan: Plan) -> None:
    """Every output of a range_plan job carries `ds` as a string, or a ContractViolation naming
    the job, the output and the fix (from the plan's schemas: no data read)."""
    job = plan.job
    for alias, table in job.outputs.items():
        kind = dict(plan.frames[alias].dtypes).get("ds")
        if kind != "string":
            problem = "has no ds column" if kind is None else f"has ds as {kind}, not string YYYY-MM-DD"
            raise ContractViolation(table.name, [f"job {job.name} declares range_plan, but output {alias} {problem} "
                                                 f"(nothing was written): {_FIX}"])


def check_days(plan: Plan) -> None:
    """Every output of a range_plan job holds rows of `p.days` only, or a ContractViolation
    naming the job, the output and the fix. The days are read in one Spark job over the outputs
    (from the cached steps), described as a days check: its scans are not the job's reads."""
    from functools import reduce

    from pyspark.sql import functions as F

    job, days = plan.job, plan.params.days
    probes: list[DataFrame] = [
        plan.frames[alias].where(F.col("ds").isNull() | ~F.col("ds").isin(list(days)))
        .select(F.lit(alias).alias("output"), F.col("ds")).limit(1)
        for alias in job.outputs
    ]
    context = probes[0].sparkSession.sparkContext
    context.setJobDescription(DAYS_CHECK)
    try:
        stray = reduce(lambda one, other: one.unionByName(other), probes).collect()
    finally:
        context.setJobDescription(None)  # type: ignore[arg-type] - None clears it
    if stray:
        alias, ds = stray[0].output, stray[0].ds
        held = "rows without a ds" if ds is None else f"rows of ds={ds}"
        raise ContractViolation(job.outputs[alias].name, [
            f"job {job.name} declares range_plan, but output {alias} holds {held}, outside the run's days "
            f"{days_label(days)} (nothing was published): {_FIX}"
        ])


class _RangeRun:
    """The shared part of a range (plan, cached steps, checks), then one day at a time."""

    def __init__(self, config: RunConfig, days: list[str]) -> None:
        self.config, self.days = config, days
        self.label = days_label(days)
        self.plan: Plan | None = None
        self.spark: SparkSession | None = None
        self.first: RunSummary | None = None  # the first day's summary, holding the shared work
        self.scans: ScanMetrics | None = None
        self.started = time.perf_counter()
        self.phases = ["plan: read inputs, build the steps" + ("" if len(days) == 1 else f" for {len(days)} days"),
                       "cache the shared steps, check input keys and the outputs' days",
                       "write, check and publish the outputs" + ("" if len(days) == 1 else ", one day after the other")]
        if config.count_inputs and len(days) == 1:
            self.phases.append("input rows from the scans")
        self.progress = Progress(config.job, self.label, self.phases)

    def prepare(self, spark: SparkSession | None, lineage: RunLineage) -> None:
        config = replace(self.config, ds=self.days[0])

        def validated() -> None:
            lineage.validated = True
            self.progress(self.phases[0])

        self.plan = plan = plan_job(config, spark, validated=validated, days=self.days)
        check_ds_columns(plan)
        frames = plan.frames
        self.spark = spark = next(iter(frames.values())).sparkSession if frames else spark
        lineage.start(plan, spark)
        self.first = RunSummary(job=plan.job.name, ds=self.days[0], env=env_label(plan.env),
                                app_id=spark.sparkContext.applicationId)
        self.first.timings += plan.timings(self.started)
        self.scans = ScanMetrics(spark) if config.count_inputs else None  # before the run's first action
        self.progress(self.phases[1])
        cache_shared_steps(plan, spark, self.first)
        t = time.perf_counter()
        check_days(plan)
        self.first.timings.append(("check the outputs' days", time.perf_counter() - t))
        self.progress(self.phases[2])

    def publish(self, ds: str) -> RunSummary:
        """Stage and publish `ds`'s rows of every output (see WarehouseWriter), then its summary."""

        plan, first = self.plan, ds == self.days[0]
        started = self.started if first else time.perf_counter()
        if first:
            summary, scans = self.first, self.scans
        else:
            summary = RunSummary(job=plan.job.name, ds=ds, env=self.first.env, app_id=self.first.app_id)
            scans = ScanMetrics(self.spark) if self.config.count_inputs else None
        t = time.perf_counter()
        outputs = [(plan.frames[alias], table) for alias, table in plan.job.outputs.items()]
        summary.outputs = plan.writer.write_all(outputs, replace(plan.params, ds=ds), ranged=True)
        summary.timings += [(f"write {alias}", out.seconds) for alias, out in zip(plan.job.outputs, summary.outputs)]
        summary.timings.append(("write outputs (concurrent), publish", time.perf_counter() - t))
        if scans is not None and len(self.days) == 1:
            self.progress(self.phases[3])
        count_input_rows(plan, scans, summary)
        summary.notes += self._notes(ds)
        return finish(summary, started)

    def _notes(self, ds: str) -> list[str]:
        if len(self.days) == 1:
            return []
        shared = (f"one plan computed the {len(self.days)} days {self.label}: it read the inputs and cached the "
                  "shared steps once for all of them")
        if not self.config.count_inputs:
            return [shared]
        if ds == self.days[0]:
            return [f"{shared}; this day's input rows are that one read, and what its own writes read again"]
        return [f"{shared}, counted in the summary of ds={self.days[0]}; this day's input rows are only what its "
                "own writes read again"]

    def release(self) -> None:
        if self.plan is not None:
            release_shared_steps(self.plan)

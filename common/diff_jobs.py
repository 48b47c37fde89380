"""What a branch changes in the data: every output of a job, the branch's partition against
production's (or another branch's), through the one diff engine (`common.diff`).

Each side's physical table comes from `Environment` (production: `Environment("prod")`, a
branch: `Environment("qa", branch)`), filtered to the ds partition. A side with nothing
written for that ds is an error naming what is missing and how to write it. Without named
jobs, the jobs diffed are those the branch's QA run wrote for that ds; the others are listed
as not run by the branch, which is no error (CI diffs a branch's QA run this way).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

from common.contracts import Table
from common.diff import EXAMPLES, DiffReport, Tolerance, diff_frames
from common.environments import Environment
from common.errors import PysparkJobsError, SourceError
from common.io.table_format import run_date_value
from common.io.warehouse import partition_exists
from common.job import parse_ds

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["BranchDiff", "JobDiff", "Side", "diff_branch", "diff_job", "jobs_run", "read_output", "run_date_rows"]

PROD = "prod"


@dataclass(frozen=True)
class Side:
    """One side of a diff: production, or a branch's qa namespace."""

    env: Environment

    @classmethod
    def parse(cls, name: str) -> Side:
        return cls(Environment("prod") if name == PROD else Environment("qa", name))

    @property
    def label(self) -> str:
        return PROD if self.env.name == "prod" else f"branch {self.env.branch}"


def _missing(spark: SparkSession, env: Environment, table: Table, *, ds: str, job: str) -> str | None:
    """Why `env` has no ds partition of `table` to read, naming what is missing (database, table
    or partition) and the run that would write it; None when it has one."""
    physical = env.output_name(table)
    database = physical.partition(".")[0]
    side = {"prod": "production", "qa": f"branch {env.branch!r}"}.get(env.name, "the local lake")
    run = f"pyspark-jobs run {job} --ds {ds} --env {env.name}" + (f" --branch {env.branch}" if env.branch else "")
    if not spark.catalog.databaseExists(database):
        what = f"{side} has no outputs in {database}" + (" (is the branch name right?)" if env.name == "qa" else "")
        return f"{what}: database {database} does not exist; run `{run}` first"
    if not spark.catalog.tableExists(physical):
        return f"{side} has no table {physical}: run `{run}` first"
    spark.catalog.refreshTable(physical)
    dates = table.contract.run_date_columns
    if dates and not partition_exists(spark, physical, dates[0], run_date_value(dates[0], ds)):
        value = run_date_value(dates[0], ds)
        return f"{side} has no data for {dates[0]}={value} in {physical}: run `{run}`, or diff a ds it has"
    return None


def read_output(spark: SparkSession, env: Environment, table: Table, *, ds: str, job: str) -> DataFrame:
    """The ds partition of an output as `env` wrote it, without its run-date column; SourceError
    naming what is missing (database, table or partition) and the run that would write it."""
    parse_ds(ds)
    missing = _missing(spark, env, table, ds=ds, job=job)
    if missing:
        raise SourceError(missing)
    return run_date_rows(spark.table(env.output_name(table)), table, ds)


def run_date_rows(df: DataFrame, table: Table, ds: str) -> DataFrame:
    """`df`'s rows of run date `ds`, without the run-date column (all of them for an output without one)."""
    from pyspark.sql import functions as F

    dates = table.contract.run_date_columns
    if not dates:
        return df
    return df.filter(F.col(dates[0]) == run_date_value(dates[0], ds)).drop(dates[0])


@dataclass
class JobDiff:
    job: str
    ds: str
    left: str
    right: str
    reports: list[DiffReport]

    @property
    def equal(self) -> bool:
        return all(r.equal for r in self.reports)

    @property
    def title(self) -> str:
        return f"diff {self.job} ds={self.ds}: {self.right} against {self.left}"


def _sides(branch: str, against: str) -> tuple[Side, Side]:
    """The baseline and the branch; the branch against itself is an error."""
    base, head = Side.parse(against), Side(Environment("qa", branch))
    if base == head:
        raise SourceError(f"--against {against} is the branch itself: diff against prod or another branch")
    return base, head


def _session(spark: SparkSession | None) -> SparkSession:
    if spark is not None:
        return spark
    from common.session import get_spark

    return get_spark("pyspark-jobs diff")


def diff_job(
    job: str,
    *,
    ds: str,
    branch: str,
    against: str = PROD,
    tolerance: Tolerance | None = None,
    examples: int = EXAMPLES,
    spark: SparkSession | None = None,
) -> JobDiff:
    """Diff every output of `job` for `ds`: `branch`'s qa namespace against `against` (production
    or another branch). Every side is resolved before any diff runs, so a missing one fails fast."""
    from common.registry import get_job

    job_cls = get_job(job)
    parse_ds(ds)
    base, head = _sides(branch, against)
    spark = _session(spark)
    # The branch first: its outputs are what the question is about.
    heads = [read_output(spark, head.env, table, ds=ds, job=job) for table in job_cls.outputs.values()]
    bases = [read_output(spark, base.env, table, ds=ds, job=job) for table in job_cls.outputs.values()]
    reports = [
        diff_frames(
            left,
            right,
            key=table.contract.primary_key,
            tolerance=tolerance or Tolerance(),
            names=(base.label, head.label),
            examples=examples,
            table=table.name,
            key_unique=True,
        )
        for table, left, right in zip(job_cls.outputs.values(), bases, heads)
    ]
    return JobDiff(job, ds, base.label, head.label, reports)


def jobs_run(spark: SparkSession, *, ds: str, branch: str) -> tuple[list[str], list[str]]:
    """Every job, split into those the branch's QA run wrote for `ds` (an output with that ds in
    the branch's qa namespace) and those it did not run; each list sorted by name."""
    from common.registry import discover

    env = Environment("qa", branch)
    databases = {db.name for db in spark.catalog.listDatabases() if db.name.startswith(env.qa_prefix)}
    run: list[str] = []
    not_run: list[str] = []
    for name, job_cls in discover().items():
        tables = [t for t in job_cls.outputs.values() if env.output_name(t).partition(".")[0] in databases]
        wrote = any(_missing(spark, env, table, ds=ds, job=name) is None for table in tables)
        (run if wrote else not_run).append(name)
    return run, not_run


@dataclass
class BranchDiff:
    """Several jobs' diffs for one ds: the reports, the jobs that could not be diffed (one line
    each) and, when the jobs were chosen by what the branch wrote, those it did not run."""

    ds: str
    left: str
    right: str
    diffs: list[JobDiff] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    not_run: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # run by the branch, but not changed by it

    @property
    def equal(self) -> bool:
        return not self.errors and all(d.equal for d in self.diffs)

    @property
    def status(self) -> int:
        """The exit status: 0 identical, 1 different, 2 a job could not be diffed."""
        return 2 if self.errors else 0 if self.equal else 1

    @property
    def title(self) -> str:
        return f"diff ds={self.ds}: {self.right} against {self.left}"


def diff_branch(
    jobs: Sequence[str] | None = None,
    *,
    ds: str,
    branch: str,
    against: str = PROD,
    tolerance: Tolerance | None = None,
    examples: int = EXAMPLES,
    spark: SparkSession | None = None,
    changed: Sequence[str] | None = None,
) -> BranchDiff:
    """Diff `jobs`, or without them every job the branch's QA run wrote for `ds` (the others are
    listed as not run) and, given `changed` (`check --changed`), only those of them the branch
    changed (the others are listed as unchanged). A job that cannot be diffed is recorded as
    that job's error and the others are still diffed; a branch that wrote nothing for `ds` is a
    SourceError."""
    parse_ds(ds)
    base, head = _sides(branch, against)
    spark = _session(spark)
    result = BranchDiff(ds, base.label, head.label)
    if jobs is None:
        jobs, result.not_run = jobs_run(spark, ds=ds, branch=branch)
        if not jobs:
            raise SourceError(
                f"branch {branch!r} wrote no job's outputs for ds={ds} (nothing in {head.env.qa_prefix}*): "
                f"is the branch name right, and did its QA run write ds={ds}?"
            )
        if changed is not None:
            result.unchanged = [name for name in jobs if name not in set(changed)]
            jobs = [name for name in jobs if name in set(changed)]
    for name in jobs:
        try:
            result.diffs.append(
                diff_job(name, ds=ds, branch=branch, against=against, tolerance=tolerance, examples=examples,
                         spark=spark)
            )
        except PysparkJobsError as exc:
            result.errors[name] = str(exc)
    return result

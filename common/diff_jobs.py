"""What a branch changes in the data: every output of a job, the branch's partition against
production's (or another branch's), through the one diff engine (`common.diff`).

Each side's physical table comes from `Environment` (production: `Environment("prod")`, a
branch: `Environment("qa", branch)`), filtered to the ds partition. A side with nothing
written for that ds is an error naming what is missing and how to write it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from common.contracts import Table
from common.diff import EXAMPLES, DiffReport, Tolerance, diff_frames
from common.environments import Environment
from common.errors import SourceError
from common.io.table_format import run_date_value
from common.io.warehouse import partition_exists
from common.job import parse_ds

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["JobDiff", "Side", "diff_job", "read_output"]

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


def read_output(spark: SparkSession, env: Environment, table: Table, *, ds: str, job: str) -> DataFrame:
    """The ds partition of an output as `env` wrote it, without the ds column; SourceError naming
    what is missing (database, table or partition) and the run that would write it."""
    from pyspark.sql import functions as F

    parse_ds(ds)
    physical = env.output_name(table)
    database = physical.partition(".")[0]
    side = {"prod": "production", "qa": f"branch {env.branch!r}"}.get(env.name, "the local lake")
    run = f"pyspark-jobs run {job} --ds {ds} --env {env.name}" + (f" --branch {env.branch}" if env.branch else "")
    if not spark.catalog.databaseExists(database):
        what = f"{side} has no outputs in {database}" + (" (is the branch name right?)" if env.name == "qa" else "")
        raise SourceError(f"{what}: database {database} does not exist; run `{run}` first")
    if not spark.catalog.tableExists(physical):
        raise SourceError(f"{side} has no table {physical}: run `{run}` first")
    spark.catalog.refreshTable(physical)
    df = spark.table(physical)
    if not table.contract.run_date_columns:
        return df
    (column,) = table.contract.run_date_columns
    value = run_date_value(column, ds)
    if not partition_exists(spark, physical, column, value):
        raise SourceError(f"{side} has no data for {column}={value} in {physical}: run `{run}`, or diff a ds it has")
    return df.filter(F.col(column) == value).drop(column)


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
    base, head = Side.parse(against), Side(Environment("qa", branch))
    if base == head:
        raise SourceError(f"--against {against} is the branch itself: diff against prod or another branch")
    if spark is None:
        from common.session import get_spark

        spark = get_spark("pyspark-jobs diff")
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

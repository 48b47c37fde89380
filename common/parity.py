"""Parity: does the DataFrame job that replaces a legacy SqlJob give the same answer?

The diff itself is `common.diff`, the engine `pyspark-jobs diff` uses too. Parity matches rows
on the DataFrame job's primary key, or, for outputs without one, on every non-numeric column
(so numbers, which SQL and DataFrame code may round differently, are compared with the
tolerance instead of as part of a multiset); numbers may differ by `tolerance` (absolute).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from common.diff import DiffReport, Tolerance, diff_frames
from common.diff_render import render_text
from common.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["parity_key", "parity_report", "render_parity"]

_NUMERIC = ("tinyint", "smallint", "int", "bigint", "float", "double", "decimal")


def parity_key(dtypes: list[tuple[str, str]], primary_key: tuple[str, ...]) -> tuple[str, ...]:
    """The primary key, else every non-numeric column."""
    key = primary_key or tuple(name for name, type_name in dtypes if not type_name.startswith(_NUMERIC))
    if not key:
        raise ConfigError("parity: no key to match rows on; declare a primary key in the output contract")
    return key


def parity_report(
    left_job: str,
    right_job: str,
    *,
    ds: str,
    env: str = "local",
    branch: str | None = None,
    tolerance: float = 0.01,
    spark: SparkSession | None = None,
) -> DiffReport:
    """Diff the written outputs of two single-output jobs for one ds."""
    from common.diff_jobs import read_output
    from common.environments import Environment
    from common.registry import get_job
    from common.session import get_spark

    spark = spark or get_spark("pyspark-jobs parity")
    environment = Environment(env, branch)
    frames, tables = [], []
    for name in (left_job, right_job):
        job = get_job(name)
        if len(job.outputs) != 1:
            raise ConfigError(f"parity compares single-output jobs; {name} has {len(job.outputs)}")
        (table,) = job.outputs.values()
        frames.append(read_output(spark, environment, table, ds=ds, job=name))
        tables.append(table)
    key = parity_key(frames[1].dtypes, tables[1].contract.primary_key)
    return diff_frames(
        frames[0],
        frames[1],
        key=key,
        tolerance=Tolerance(absolute=tolerance),
        names=(left_job, right_job),
        table=tables[1].name,
    )


def render_parity(report: DiffReport, ds: str | None = None) -> str:
    """The report as text, its title naming both sides (and the ds, when given)."""
    return render_text([report], title=f"parity {report.left} vs {report.right}" + (f" ds={ds}" if ds else ""))

"""Parity diff: does the DataFrame job that replaces a legacy SqlJob give the same answer?

Rows are matched by key (the right side's primary key, else every non-numeric column);
the report gives row counts, the keys found on one side only, and per column the rows whose
values differ beyond the tolerance (numbers) or at all (everything else).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from common.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["ParityReport", "diff_frames", "parity_report"]

SAMPLE = 5
_NUMERIC = ("tinyint", "smallint", "int", "bigint", "float", "double", "decimal")


@dataclass
class ParityReport:
    left: str
    right: str
    key: tuple[str, ...]
    left_rows: int
    right_rows: int
    only_left: list[dict] = field(default_factory=list)
    only_right: list[dict] = field(default_factory=list)
    only_left_count: int = 0
    only_right_count: int = 0
    column_diffs: dict[str, tuple[int, list[dict]]] = field(default_factory=dict)

    @property
    def equal(self) -> bool:
        return not (self.only_left_count or self.only_right_count or self.column_diffs) and (
            self.left_rows == self.right_rows
        )

    def render(self) -> str:
        lines = [
            f"parity {self.left} vs {self.right} on key ({', '.join(self.key)}): "
            + ("EQUAL" if self.equal else "DIFFERENT"),
            f"  rows: {self.left_rows} vs {self.right_rows}",
        ]
        for label, count, rows in (
            (f"only in {self.left}", self.only_left_count, self.only_left),
            (f"only in {self.right}", self.only_right_count, self.only_right),
        ):
            if count:
                lines.append(f"  {count} row(s) {label}, e.g.:")
                lines += [f"    {row}" for row in rows]
        for column, (count, rows) in self.column_diffs.items():
            lines.append(f"  column {column}: {count} row(s) differ, e.g.:")
            lines += [f"    {row}" for row in rows]
        return "\n".join(lines)


def _numeric(type_name: str) -> bool:
    return type_name.startswith(_NUMERIC)


def diff_frames(
    left: DataFrame,
    right: DataFrame,
    *,
    key: tuple[str, ...] | None = None,
    tolerance: float = 0.01,
    rel_tolerance: float = 1e-9,
    names: tuple[str, str] = ("left", "right"),
) -> ParityReport:
    """Numbers differ when |a - b| exceeds both `tolerance` (absolute: a cent for money) and
    `rel_tolerance` x |b| (for large doubles)."""
    from pyspark.sql import functions as F

    types = dict(right.dtypes)
    missing = sorted(set(right.columns) ^ set(left.columns))
    if missing:
        raise ConfigError(f"parity: the two sides have different columns: {', '.join(missing)}")
    key = tuple(key or [c for c in right.columns if not _numeric(types[c])])
    if not key:
        raise ConfigError("parity: no key to match rows on; pass key=(...) or declare a primary key")
    values = [c for c in right.columns if c not in key]
    lhs = left.select(*key, *[F.col(c).alias(f"l__{c}") for c in values], F.lit(True).alias("l__present"))
    rhs = right.select(
        *[F.col(k).alias(f"r__k__{k}") for k in key],
        *[F.col(c).alias(f"r__{c}") for c in values],
        F.lit(True).alias("r__present"),
    )
    on = [lhs[k].eqNullSafe(rhs[f"r__k__{k}"]) for k in key]
    joined = lhs.join(rhs, on=on, how="full_outer").select(
        *[F.coalesce(F.col(k), F.col(f"r__k__{k}")).alias(k) for k in key],
        *[F.col(f"l__{c}") for c in values],
        *[F.col(f"r__{c}") for c in values],
        "l__present",
        "r__present",
    ).cache()
    try:
        report = ParityReport(names[0], names[1], key, left.count(), right.count())
        only_left = joined.filter(F.col("r__present").isNull())
        only_right = joined.filter(F.col("l__present").isNull())
        report.only_left_count = only_left.count()
        report.only_right_count = only_right.count()
        report.only_left = [r.asDict() for r in only_left.select(*key).limit(SAMPLE).collect()]
        report.only_right = [r.asDict() for r in only_right.select(*key).limit(SAMPLE).collect()]
        both = joined.filter(F.col("l__present") & F.col("r__present"))
        for c in values:
            lc, rc = F.col(f"l__{c}"), F.col(f"r__{c}")
            if _numeric(types[c]):
                allowed = F.greatest(F.lit(tolerance), F.lit(rel_tolerance) * F.abs(rc.cast("double")))
                differs = (F.abs(lc.cast("double") - rc.cast("double")) > allowed) | (
                    lc.isNull() != rc.isNull()
                )
            else:
                differs = ~lc.eqNullSafe(rc)
            bad = both.filter(differs)
            count = bad.count()
            if count:
                sample = bad.select(*key, lc.alias(names[0]), rc.alias(names[1])).limit(SAMPLE).collect()
                report.column_diffs[c] = (count, [r.asDict() for r in sample])
        return report
    finally:
        joined.unpersist()


def parity_report(
    left_job: str, right_job: str, *, ds: str, env: str = "local", branch: str | None = None, tolerance: float = 0.01,
    spark: SparkSession | None = None,
) -> ParityReport:
    """Diff the written outputs of two single-output jobs for one ds."""
    from pyspark.sql import functions as F

    from common.environments import Environment
    from common.registry import get_job
    from common.session import get_spark

    spark = spark or get_spark("pyspark-jobs parity")
    environment = Environment(env, branch)
    frames = []
    for name in (left_job, right_job):
        job = get_job(name)
        if len(job.outputs) != 1:
            raise ConfigError(f"parity compares single-output jobs; {name} has {len(job.outputs)}")
        (table,) = job.outputs.values()
        df = spark.table(environment.output_name(table))
        if table.contract.partition_by:
            df = df.filter(F.col("ds") == ds).drop("ds")
        frames.append(df)
    (right_table,) = get_job(right_job).outputs.values()
    key = right_table.contract.primary_key or None
    return diff_frames(frames[0], frames[1], key=key, tolerance=tolerance, names=(left_job, right_job))

"""The data diff: what differs between two DataFrames, computed in Spark.

With a key, rows are matched on it (a null-safe full outer join) and one aggregation counts
the rows of each side, the keys found on one side only and, per column, the matched rows
whose values differ; only the examples (a few keys per difference) reach the driver.
Without a key, the two sides are compared as multisets: identical rows are counted on each
side and the report says how many of each row one side has more of.

Numbers are equal within a tolerance that follows their type: a decimal of scale s may be
one unit of its last place apart (a cent for money), a float or double `relative` of the
larger magnitude, an integer not at all. Nulls are values: null equals null, null differs
from anything else. `pyspark-jobs diff` (a branch against production) and `pyspark-jobs
parity` (a SqlJob against the DataFrame job that replaces it) both use this module.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from common.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import Column as SparkColumn
    from pyspark.sql import DataFrame

__all__ = ["ColumnDiff", "DiffReport", "Tolerance", "diff_frames"]

EXAMPLES = 5
RELATIVE = 1e-9
_INTEGRAL = ("tinyint", "smallint", "int", "bigint")
_FLOATING = ("float", "double")
_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")


@dataclass(frozen=True)
class Tolerance:
    """How far apart two numbers may be and still be equal.

    decimal(p,s): one unit of the last place (10^-s); float and double: `relative` x the
    larger magnitude; integers: exact. `absolute`, when set, is allowed for every number on
    top (parity's historical cent, for SQL and DataFrame jobs that round differently).
    """

    relative: float = RELATIVE
    absolute: float | None = None

    def within(self, type_name: str, left: SparkColumn, right: SparkColumn) -> SparkColumn | None:
        """A condition true when two non-null values of this type are equal enough; None for
        types compared exactly."""
        from pyspark.sql import functions as F

        gap = F.abs(left - right)
        floor = F.lit(self.absolute or 0.0)
        decimal = _DECIMAL.fullmatch(type_name)
        if decimal:
            unit = Decimal(1).scaleb(-int(decimal.group(2)))
            allowed = F.greatest(F.lit(unit).cast("double"), floor) if self.absolute else F.lit(unit)
            return (gap.cast("double") if self.absolute else gap) <= allowed
        if type_name in _FLOATING:  # Spark orders NaN above everything: NaN <= NaN would hold
            allowed = F.greatest(floor, F.lit(self.relative) * F.greatest(F.abs(left), F.abs(right)))
            return ~F.isnan(gap) & (gap <= allowed)
        if type_name in _INTEGRAL and self.absolute:
            return gap <= floor
        return None


@dataclass
class ColumnDiff:
    column: str
    type: str
    differing: int
    rate: float  # of the rows matched on both sides
    # {"key": {column: value}, "left": value, "right": value}
    examples: list[dict] = field(default_factory=list)


@dataclass
class DiffReport:
    """What differs between `left` (the baseline) and `right`; `equal` when nothing does."""

    left: str
    right: str
    key: tuple[str, ...]
    left_rows: int = 0
    right_rows: int = 0
    only_left: int = 0
    only_right: int = 0
    # keyed: {"key": {...}}; multisets: {"row": {...}, "left": count, "right": count}
    only_left_examples: list[dict] = field(default_factory=list)
    only_right_examples: list[dict] = field(default_factory=list)
    columns: dict[str, ColumnDiff] = field(default_factory=dict)  # differing columns only
    compared: tuple[str, ...] = ()
    schema: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    table: str = ""

    @property
    def keyed(self) -> bool:
        return bool(self.key)

    @property
    def matched(self) -> int:
        """Rows found on both sides (keyed), or rows the two multisets share."""
        return self.left_rows - self.only_left

    @property
    def equal(self) -> bool:
        return not (self.only_left or self.only_right or self.columns or self.schema) and (
            self.left_rows == self.right_rows
        )

    def to_dict(self) -> dict:
        data = asdict(self)
        data.update(keyed=self.keyed, equal=self.equal, matched=self.matched, key=list(self.key))
        return data


def diff_frames(
    left: DataFrame,
    right: DataFrame,
    *,
    key: tuple[str, ...] = (),
    tolerance: Tolerance = Tolerance(),
    names: tuple[str, str] = ("left", "right"),
    examples: int = EXAMPLES,
    table: str = "",
    key_unique: bool = False,
) -> DiffReport:
    """Diff two frames: keyed on `key`, or as multisets when it is empty.

    `key_unique`: the key is known unique on both sides (a contract's primary key, checked
    by the writer), so the two counts that would detect duplicated keys are skipped."""
    left_types, right_types = dict(left.dtypes), dict(right.dtypes)
    missing = [k for k in key if k not in left_types or k not in right_types]
    if missing:
        raise ConfigError(f"diff {table or 'frames'}: key column(s) {', '.join(missing)} missing on one side")
    report = DiffReport(names[0], names[1], tuple(key), table=table, schema=_schema_differences(left, right, names))
    common = [c for c in right.columns if c in left_types]
    report.compared = tuple(c for c in common if c not in key)
    if key:
        _keyed(left, right, report, left_types, right_types, tolerance, examples)
        if not key_unique:
            _note_duplicate_keys(left, right, report)
    else:
        report.notes.append("no primary key: compared as multisets (counts of identical rows, values exact)")
        _multiset(left.select(*common), right.select(*common), report, examples)
    return report


def _schema_differences(left: DataFrame, right: DataFrame, names: tuple[str, str]) -> list[str]:
    left_types, right_types = dict(left.dtypes), dict(right.dtypes)
    found = [f"column {c} only in {names[0]} ({left_types[c]})" for c in left.columns if c not in right_types]
    found += [f"column {c} only in {names[1]} ({right_types[c]})" for c in right.columns if c not in left_types]
    found += [
        f"column {c} is {left_types[c]} in {names[0]}, {right_types[c]} in {names[1]}"
        for c in right.columns
        if c in left_types and left_types[c] != right_types[c]
    ]
    return found


def _differs(
    type_name: str, other_type: str, left: SparkColumn, right: SparkColumn, tolerance: Tolerance
) -> SparkColumn:
    """True when two values differ beyond the tolerance of their type; nulls compared as values."""
    from pyspark.sql import functions as F

    numeric = all(t.startswith((*_INTEGRAL, *_FLOATING, "decimal")) for t in (type_name, other_type))
    if type_name != other_type and not numeric:
        left, right = left.cast("string"), right.cast("string")
    within = tolerance.within(type_name if type_name == other_type else "double", left, right)
    unequal = ~left.eqNullSafe(right)
    return unequal if within is None else unequal & ~F.coalesce(within, F.lit(False))


def _keyed(left, right, report: DiffReport, left_types, right_types, tolerance: Tolerance, examples: int) -> None:  # noqa: ANN001
    from pyspark.sql import functions as F

    key, values = report.key, report.compared
    lhs = left.select(
        *[F.col(k).alias(f"lk{i}") for i, k in enumerate(key)],
        *[F.col(c).alias(f"lv{i}") for i, c in enumerate(values)],
        F.lit(True).alias("l_present"),
    )
    rhs = right.select(
        *[F.col(k).alias(f"rk{i}") for i, k in enumerate(key)],
        *[F.col(c).alias(f"rv{i}") for i, c in enumerate(values)],
        F.lit(True).alias("r_present"),
    )
    on = [F.col(f"lk{i}").eqNullSafe(F.col(f"rk{i}")) for i in range(len(key))]
    joined = lhs.join(rhs, on=on, how="full_outer").select(
        *[F.coalesce(F.col(f"lk{i}"), F.col(f"rk{i}")).alias(k) for i, k in enumerate(key)],
        *[F.col(f"lv{i}") for i in range(len(values))],
        *[F.col(f"rv{i}") for i in range(len(values))],
        F.col("l_present").isNotNull().alias("l_present"),
        F.col("r_present").isNotNull().alias("r_present"),
    )
    in_left, in_right = F.col("l_present"), F.col("r_present")
    only_left, only_right, both = in_left & ~in_right, in_right & ~in_left, in_left & in_right
    differs = [
        _differs(right_types[c], left_types[c], F.col(f"lv{i}"), F.col(f"rv{i}"), tolerance)
        for i, c in enumerate(values)
    ]
    joined = joined.cache()
    try:
        (totals,) = joined.agg(
            F.count(F.when(in_left, 1)).alias("left_rows"),
            F.count(F.when(in_right, 1)).alias("right_rows"),
            F.count(F.when(only_left, 1)).alias("only_left"),
            F.count(F.when(only_right, 1)).alias("only_right"),
            *[F.count(F.when(both & d, 1)).alias(f"d{i}") for i, d in enumerate(differs)],
        ).collect()
        report.left_rows, report.right_rows = totals["left_rows"], totals["right_rows"]
        report.only_left, report.only_right = totals["only_left"], totals["only_right"]
        keys = [F.col(k) for k in key]

        def first(condition: SparkColumn, *values: SparkColumn) -> list[dict]:
            found = joined.filter(condition).orderBy(*keys).select(*keys, *values).limit(examples).collect()
            return [
                {"key": {k: row[i] for i, k in enumerate(key)}, **dict(zip(("left", "right"), row[len(key) :]))}
                for row in found
            ]

        if report.only_left:
            report.only_left_examples = first(only_left)
        if report.only_right:
            report.only_right_examples = first(only_right)
        matched = report.left_rows - report.only_left
        for i, column in enumerate(values):
            count = totals[f"d{i}"]
            if count:
                sample = first(both & differs[i], F.col(f"lv{i}"), F.col(f"rv{i}"))
                report.columns[column] = ColumnDiff(column, right_types[column], count, count / matched, sample)
    finally:
        joined.unpersist()


def _note_duplicate_keys(left: DataFrame, right: DataFrame, report: DiffReport) -> None:
    """A key that is not unique multiplies rows in the join: say so, the counts are of joined rows."""
    for name, total, frame in ((report.left, report.left_rows, left), (report.right, report.right_rows, right)):
        if total != frame.count():
            report.notes.append(f"key ({', '.join(report.key)}) is not unique in {name}: counts are of joined rows")


def _multiset(left, right, report: DiffReport, examples: int) -> None:  # noqa: ANN001
    """Counts of identical rows on each side, joined null-safely on every column."""
    from pyspark.sql import functions as F

    columns = left.columns
    alias = {c: f"c{i}" for i, c in enumerate(columns)}

    def counted(df: DataFrame, side: str) -> DataFrame:
        named = df.select(*[F.col(c).alias(f"{side}{alias[c]}") for c in columns])
        return named.groupBy(*named.columns).agg(F.count(F.lit(1)).alias(f"{side}_n"))

    lhs, rhs = counted(left, "l"), counted(right, "r")
    on = [F.col(f"l{alias[c]}").eqNullSafe(F.col(f"r{alias[c]}")) for c in columns]
    ln, rn = F.coalesce(F.col("l_n"), F.lit(0)), F.coalesce(F.col("r_n"), F.lit(0))
    joined = lhs.join(rhs, on=on, how="full_outer").select(
        *[F.coalesce(F.col(f"l{alias[c]}"), F.col(f"r{alias[c]}")).alias(c) for c in columns],
        ln.alias("l_n"),
        rn.alias("r_n"),
    )
    extra = F.col("l_n") - F.col("r_n")
    (totals,) = joined.agg(
        F.sum("l_n").alias("left_rows"),
        F.sum("r_n").alias("right_rows"),
        F.sum(F.greatest(extra, F.lit(0))).alias("only_left"),
        F.sum(F.greatest(-extra, F.lit(0))).alias("only_right"),
    ).collect()
    report.left_rows, report.right_rows = totals["left_rows"] or 0, totals["right_rows"] or 0
    report.only_left, report.only_right = totals["only_left"] or 0, totals["only_right"] or 0
    for count, sign, target in (
        (report.only_left, extra > 0, report.only_left_examples),
        (report.only_right, extra < 0, report.only_right_examples),
    ):
        if count:
            rows = joined.filter(sign).orderBy(*columns).limit(examples).collect()
            target.extend(
                {"row": {c: row[c] for c in columns}, "left": row["l_n"], "right": row["r_n"]} for row in rows
            )

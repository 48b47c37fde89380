"""Comparing a DataFrame with a contract: schema (no data read) and data (nulls, keys)."""

from __future__ import annotations

import difflib
import functools
from typing import TYPE_CHECKING, Mapping

from common.contracts import Column, Contract

if TYPE_CHECKING:
    from pyspark.sql import Column as SparkColumn
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType

__all__ = ["schema_violations", "data_violations", "count_columns", "count_violations", "duplicate_keys", "proven_unique", "closest"]


def closest(name: str, candidates: list[str] | tuple[str, ...]) -> str:
    """' (closest: a, b)' or '' — for messages that name a missing column."""
    close = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.5)
    return f" (closest: {', '.join(close)})" if close else ""


def _spark_type(column: Column) -> str:
    return _simple_type(column.type)


@functools.cache
def _simple_type(ddl: str) -> str:
    """Spark's name of a DDL type ("int" -> "int", "decimal(15, 2)" -> "decimal(15,2)"); each
    parse is a JVM round trip, and every read and write compares a whole contract."""
    from pyspark.sql import types as T

    return T._parse_datatype_string(ddl).simpleString()


def schema_violations(
    schema: StructType, contract: Contract, *, data_only: bool = False, check_nullable: bool = False
) -> list[str]:
    """Missing, extra and mistyped columns; with check_nullable, nullable results for NOT NULL columns."""
    expected = contract.data_columns if data_only else contract.columns
    actual = {f.name: f for f in schema.fields}
    problems = []
    for column in expected:
        field = actual.get(column.name)
        if field is None:
            problems.append(f"missing column {column.name} {column.type}{closest(column.name, list(actual))}")
            continue
        want, got = _spark_type(column), field.dataType.simpleString()
        if want != got:
            problems.append(f"column {column.name} is {got}, contract says {want}: cast it in the final select")
        elif check_nullable and not column.nullable and field.nullable:
            problems.append(
                f"column {column.name} may be null but the contract says NOT NULL: "
                "filter or coalesce it, or make the contract column nullable"
            )
    names = {c.name for c in expected}
    for extra in [n for n in actual if n not in names]:
        problems.append(f"unexpected column {extra}: drop it or add it to the contract")
    return problems


def count_columns(df: DataFrame, contract: Contract) -> list[SparkColumn]:
    """Aggregates of a frame's row count (`__rows`) and the nulls of each NOT NULL column."""
    from pyspark.sql import functions as F

    not_null = [c.name for c in contract.columns if not c.nullable and c.name in df.columns]
    return [F.count(F.lit(1)).alias("__rows"), *(F.sum(F.col(n).isNull().cast("long")).alias(n) for n in not_null)]


def count_violations(counts: Mapping[str, int | None]) -> tuple[int, list[str]]:
    """(row count, null violations) from the values of `count_columns`."""
    rows = int(counts["__rows"])
    problems = [f"column {n} has {v} null(s) but is NOT NULL" for n, v in counts.items() if n != "__rows" and v]
    return rows, problems


def duplicate_keys(df: DataFrame, contract: Contract) -> list[str]:
    """A violation naming up to three duplicated primary keys, or nothing."""
    from pyspark.sql import functions as F

    if not contract.primary_key:
        return []
    key = list(contract.primary_key)
    sample = df.groupBy(*key).count().filter(F.col("count") > 1).limit(3).collect()
    if not sample:
        return []
    shown = "; ".join(", ".join(f"{k}={r[k]}" for k in key) for r in sample)
    return [f"duplicate primary key ({', '.join(key)}), e.g. {shown}"]


def proven_unique(df: DataFrame, key: tuple[str, ...] | list[str]) -> bool:
    """Whether Spark's optimizer proves the columns `key` unique in `df` (grouped by them, a
    distinct, ...): its distinct-key sets, which the optimizer itself relies on. No data read."""
    sets = df._jdf.queryExecution().optimizedPlan().distinctKeys().iterator()
    while sets.hasNext():
        names, expressions = set(), sets.next().iterator()
        while expressions.hasNext():
            expression = expressions.next()
            if expression.getClass().getSimpleName() != "AttributeReference":
                break
            names.add(expression.name())
        else:
            if names and names <= set(key):
                return True
    return False


def data_violations(df: DataFrame, contract: Contract) -> tuple[int, list[str]]:
    """(row count, violations): nulls in NOT NULL columns and duplicate primary keys, counted in
    one Spark job; the duplicated keys are looked up only when there are some."""
    from pyspark.sql import functions as F

    key = list(contract.primary_key)
    if not key:
        return count_violations(df.agg(*count_columns(df, contract)).first().asDict())
    # the keys renamed, so that the null counts can keep their columns' names
    per_key = df.groupBy(*(F.col(k).alias(f"__key_{k}") for k in key)).agg(*count_columns(df, contract))
    counted = [n for n in per_key.columns if not n.startswith("__key_")]
    *values, duplicated = per_key.agg(*(F.sum(n) for n in counted), F.count_if(F.col("__rows") > 1)).first()
    rows, problems = count_violations({n: v or 0 for n, v in zip(counted, values)})
    return rows, problems + (duplicate_keys(df, contract) if duplicated else [])

"""Comparing a DataFrame with a contract: schema (no data read) and data (nulls, keys)."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from common.contracts import Column, Contract

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType

__all__ = ["schema_violations", "data_violations", "closest"]


def closest(name: str, candidates: list[str] | tuple[str, ...]) -> str:
    """' (closest: a, b)' or '' — for messages that name a missing column."""
    close = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.5)
    return f" (closest: {', '.join(close)})" if close else ""


def _spark_type(column: Column) -> str:
    from pyspark.sql import types as T

    return T._parse_datatype_string(column.type).simpleString()


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


def data_violations(df: DataFrame, contract: Contract) -> tuple[int, list[str]]:
    """(row count, violations): nulls in NOT NULL columns and duplicate primary keys."""
    from pyspark.sql import functions as F

    not_null = [c.name for c in contract.columns if not c.nullable and c.name in df.columns]
    aggs = [F.count(F.lit(1)).alias("__rows")]
    aggs += [F.sum(F.col(n).isNull().cast("long")).alias(n) for n in not_null]
    row = df.agg(*aggs).first()
    rows = int(row["__rows"])
    problems = [f"column {n} has {row[n]} null(s) but is NOT NULL" for n in not_null if row[n]]
    if contract.primary_key and rows:
        key = list(contract.primary_key)
        dupes = df.groupBy(*key).count().filter(F.col("count") > 1)
        sample = dupes.limit(3).collect()
        if sample:
            shown = "; ".join(", ".join(f"{k}={r[k]}" for k in key) for r in sample)
            problems.append(f"duplicate primary key ({', '.join(key)}), e.g. {shown}")
    return rows, problems

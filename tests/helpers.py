"""The one way tests compare DataFrames, with defaults chosen once."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.testing import assertDataFrameEqual

__all__ = ["assert_frame_equal", "frame", "D", "day"]


def assert_frame_equal(actual: DataFrame, expected: DataFrame | list, *, ordered: bool = False) -> None:
    assertDataFrameEqual(actual, expected, checkRowOrder=ordered, rtol=1e-9, atol=1e-9)


def frame(spark: SparkSession, schema: str, rows: list[tuple[Any, ...]]) -> DataFrame:
    """A DataFrame with an explicit DDL schema: `frame(spark, "a int, b string", [(1, "x")])`."""
    return spark.createDataFrame(rows, schema)


def D(text: str) -> Decimal:
    return Decimal(text)


def day(text: str) -> date:
    return date.fromisoformat(text)

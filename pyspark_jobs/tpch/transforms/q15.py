"""TPC-H Q15: the supplier who brought in the most revenue in a quarter (all of them on a tie)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from pyspark_jobs.tpch.transforms import in_period, revenue

if TYPE_CHECKING:
    from datetime import date

    from pyspark.sql import DataFrame

__all__ = ["revenue_per_supplier", "top_suppliers"]

QUARTER = 3  # months


def revenue_per_supplier(lineitem: DataFrame, *, start: date) -> DataFrame:
    """(l_suppkey, total_revenue) over the lines shipped in the quarter from `start`."""
    return (
        lineitem.filter(in_period("l_shipdate", start, months=QUARTER))
        .groupBy("l_suppkey")
        .agg(F.sum(revenue()).alias("total_revenue"))
    )


def top_suppliers(revenue_per_supplier: DataFrame, supplier: DataFrame) -> DataFrame:
    """The suppliers whose revenue equals the highest, with their contact details."""
    highest = revenue_per_supplier.agg(F.max("total_revenue").alias("highest_revenue"))
    top = revenue_per_supplier.join(
        highest, on=F.col("total_revenue") == F.col("highest_revenue"), how="inner"
    )
    details = supplier.select("s_suppkey", "s_name", "s_address", "s_phone")
    return details.join(top, on=F.col("s_suppkey") == F.col("l_suppkey"), how="inner").select(
        "s_suppkey", "s_name", "s_address", "s_phone", "total_revenue"
    )

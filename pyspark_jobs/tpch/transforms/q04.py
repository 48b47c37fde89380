"""TPC-H Q04: how many orders of a quarter had a line received after its commit date."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from pyspark_jobs.tpch.transforms import in_period

if TYPE_CHECKING:
    from datetime import date

    from pyspark.sql import DataFrame

__all__ = ["orders_in_quarter", "late_order_counts"]

QUARTER = 3  # months


def orders_in_quarter(orders: DataFrame, *, start: date) -> DataFrame:
    """Orders placed in the three months from `start`."""
    return orders.filter(in_period("o_orderdate", start, months=QUARTER)).select("o_orderkey", "o_orderpriority")


def late_order_counts(orders: DataFrame, lineitem: DataFrame) -> DataFrame:
    """Per priority, the orders with at least one line received after its commit date."""
    late = lineitem.filter(F.col("l_commitdate") < F.col("l_receiptdate")).select("l_orderkey")
    with_late_line = orders.join(late, on=F.col("o_orderkey") == F.col("l_orderkey"), how="left_semi")
    return with_late_line.groupBy("o_orderpriority").agg(F.count(F.lit(1)).alias("order_count"))

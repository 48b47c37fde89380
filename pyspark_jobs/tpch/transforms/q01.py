"""TPC-H Q01: the pricing summary of everything shipped up to a cutoff."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from pyspark_jobs.tpch.transforms import revenue

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["lines_shipped_by", "pricing_summary"]

# The last ship date of the generated data; the query's window ends `delta` days before it.
DATA_END = date(1998, 12, 1)


def lines_shipped_by(lineitem: DataFrame, *, delta: int) -> DataFrame:
    """Lines shipped on or before `delta` days before the end of the data."""
    cutoff = DATA_END - timedelta(days=delta)
    return lineitem.filter(F.col("l_shipdate") <= F.lit(cutoff))


def pricing_summary(lines: DataFrame) -> DataFrame:
    """Sums, averages and line counts by return flag and line status."""
    disc_price = revenue()
    charge = disc_price * (F.lit(1) + F.col("l_tax"))
    return lines.groupBy("l_returnflag", "l_linestatus").agg(
        F.sum("l_quantity").alias("sum_qty"),
        F.sum("l_extendedprice").alias("sum_base_price"),
        F.sum(disc_price).alias("sum_disc_price"),
        F.sum(charge).alias("sum_charge"),
        F.avg("l_quantity").alias("avg_qty"),
        F.avg("l_extendedprice").alias("avg_price"),
        F.avg("l_discount").alias("avg_disc"),
        F.count(F.lit(1)).alias("count_order"),
    ).select(
        "l_returnflag",
        "l_linestatus",
        F.col("sum_qty").cast("decimal(25,2)").alias("sum_qty"),
        F.col("sum_base_price").cast("decimal(25,2)").alias("sum_base_price"),
        F.col("sum_disc_price").cast("decimal(38,4)").alias("sum_disc_price"),
        F.col("sum_charge").cast("decimal(38,6)").alias("sum_charge"),
        F.col("avg_qty").cast("decimal(19,6)").alias("avg_qty"),
        F.col("avg_price").cast("decimal(19,6)").alias("avg_price"),
        F.col("avg_disc").cast("decimal(19,6)").alias("avg_disc"),
        F.col("count_order").cast("bigint").alias("count_order"),
    )

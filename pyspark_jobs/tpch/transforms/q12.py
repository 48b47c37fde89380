"""TPC-H Q12: do late deliveries of cheap ship modes hurt urgent orders?"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from pyspark_jobs.tpch.transforms import in_period

if TYPE_CHECKING:
    from datetime import date

    from pyspark.sql import DataFrame

__all__ = ["late_lines", "line_counts_by_priority"]

HIGH_PRIORITIES = ("1-URGENT", "2-HIGH")
YEAR = 12  # months


def late_lines(lineitem: DataFrame, *, shipmodes: tuple[str, ...], start: date) -> DataFrame:
    """Lines of the ship modes received in the year from `start`, shipped on time but received late."""
    shipped_on_time = F.col("l_shipdate") < F.col("l_commitdate")
    received_late = F.col("l_commitdate") < F.col("l_receiptdate")
    in_scope = F.col("l_shipmode").isin(*shipmodes) & in_period("l_receiptdate", start, months=YEAR)
    return lineitem.filter(in_scope & shipped_on_time & received_late).select("l_orderkey", "l_shipmode")


def line_counts_by_priority(lines: DataFrame, orders: DataFrame) -> DataFrame:
    """Per ship mode, how many lines belong to high-priority orders and how many to the rest."""
    priorities = orders.select("o_orderkey", "o_orderpriority")
    with_priority = lines.join(priorities, on=F.col("l_orderkey") == F.col("o_orderkey"), how="inner")
    is_high = F.col("o_orderpriority").isin(*HIGH_PRIORITIES)
    return with_priority.groupBy("l_shipmode").agg(
        F.count_if(is_high).alias("high_line_count"), F.count_if(~is_high).alias("low_line_count")
    )

"""TPC-H Q03: the unshipped orders of a market segment with the most revenue to ship."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from pyspark_jobs.tpch.transforms import revenue

if TYPE_CHECKING:
    from datetime import date

    from pyspark.sql import DataFrame

__all__ = ["segment_orders_before", "top_unshipped_orders"]

ROWS = 10  # the query's LIMIT


def segment_orders_before(orders: DataFrame, customer: DataFrame, *, segment: str, before: date) -> DataFrame:
    """Orders placed before `before` by customers of the market segment."""
    customers = customer.filter(F.col("c_mktsegment") == segment).select("c_custkey")
    placed = orders.filter(F.col("o_orderdate") < F.lit(before))
    return placed.join(customers, on=F.col("o_custkey") == F.col("c_custkey"), how="left_semi").select(
        "o_orderkey", "o_orderdate", "o_shippriority"
    )


def top_unshipped_orders(lineitem: DataFrame, orders: DataFrame, *, after: date) -> DataFrame:
    """Revenue of the orders' lines shipped after `after`; the largest first, ties by order date
    (then order key, so the cut at the limit does not depend on the plan). Revenue is summed
    after the join, see `revenue`."""
    unshipped = lineitem.filter(F.col("l_shipdate") > F.lit(after)).select(
        "l_orderkey", "l_extendedprice", "l_discount"
    )
    per_order = (
        unshipped.join(orders, on=F.col("l_orderkey") == F.col("o_orderkey"), how="inner")
        .groupBy("l_orderkey", "o_orderdate", "o_shippriority")
        .agg(F.sum(revenue()).alias("revenue"))
    )
    return (
        per_order.orderBy(F.col("revenue").desc(), "o_orderdate", "l_orderkey")
        .limit(ROWS)
        .select(
            "l_orderkey",
            F.col("revenue").cast("decimal(38,4)").alias("revenue"),
            "o_orderdate",
            "o_shippriority",
        )
    )

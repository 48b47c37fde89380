"""TPC-H Q14: how much of a month's revenue promoted parts brought in."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from pyspark_jobs.tpch.transforms import in_period, revenue

if TYPE_CHECKING:
    from datetime import date

    from pyspark.sql import DataFrame

__all__ = ["lines_shipped_in_month", "promo_revenue_share"]

MONTH = 1  # months
PROMO_PREFIX = "PROMO"
PERCENT = Decimal("100.00")


def lines_shipped_in_month(lineitem: DataFrame, *, start: date) -> DataFrame:
    """(l_partkey, l_extendedprice, l_discount) of the lines shipped in the month from `start`."""
    return lineitem.filter(in_period("l_shipdate", start, months=MONTH)).select(
        "l_partkey", "l_extendedprice", "l_discount"
    )


def promo_revenue_share(lines: DataFrame, part: DataFrame) -> DataFrame:
    """One row: 100 × revenue of PROMO parts / all revenue (null when nothing shipped); revenue
    computed inside the sums, after the join (see `revenue`)."""
    types = part.select("p_partkey", "p_type")
    priced = lines.join(types, on=F.col("l_partkey") == F.col("p_partkey"), how="inner")
    is_promo = F.col("p_type").startswith(PROMO_PREFIX)
    promo = F.sum(F.when(is_promo, revenue()).otherwise(F.lit(0)))
    return priced.agg((F.lit(PERCENT) * promo / F.sum(revenue())).alias("promo_revenue"))

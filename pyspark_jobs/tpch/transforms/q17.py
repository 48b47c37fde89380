"""TPC-H Q17: yearly revenue of the small orders of one kind of part."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from pyspark.sql import Window as W
from pyspark.sql import functions as F

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["lines_of_parts", "small_order_yearly_revenue"]

SMALL_SHARE = Decimal("0.2")  # of the part's average quantity
YEARS = Decimal("7.0")  # the database holds seven years of orders


def lines_of_parts(lineitem: DataFrame, part: DataFrame, *, brand: str, container: str) -> DataFrame:
    """(l_partkey, l_quantity, l_extendedprice) of every line of the brand's parts in the container."""
    parts = part.filter((F.col("p_brand") == brand) & (F.col("p_container") == container)).select("p_partkey")
    return lineitem.join(parts, on=F.col("l_partkey") == F.col("p_partkey"), how="inner").select(
        "l_partkey", "l_quantity", "l_extendedprice"
    )


def small_order_yearly_revenue(lines: DataFrame) -> DataFrame:
    """One row: the price of lines under a fifth of their part's average quantity, per year."""
    whole_part = W.partitionBy("l_partkey").rowsBetween(W.unboundedPreceding, W.unboundedFollowing)
    small = lines.withColumn("small_below", F.lit(SMALL_SHARE) * F.avg("l_quantity").over(whole_part)).filter(
        F.col("l_quantity") < F.col("small_below")
    )
    return small.agg((F.sum("l_extendedprice") / F.lit(YEARS)).alias("avg_yearly"))

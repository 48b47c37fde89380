"""TPC-H Q06: what a year's discounts on small lines cost, for one discount band."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from pyspark_jobs.tpch.transforms import in_period

if TYPE_CHECKING:
    from datetime import date

    from pyspark.sql import DataFrame

__all__ = ["discount_revenue"]

YEAR = 12  # months
DISCOUNT_BAND = Decimal("0.01")  # the discount matches within a cent, both ends included


def discount_revenue(lineitem: DataFrame, *, start: date, discount: float, quantity: int) -> DataFrame:
    """Sum of price times discount of the year's lines below `quantity` units in the band."""
    # Decimal, not float: 0.06 + 0.01 is 0.06999... in binary and would drop the 0.07 lines.
    centre = Decimal(str(discount))
    in_band = F.col("l_discount").between(F.lit(centre - DISCOUNT_BAND), F.lit(centre + DISCOUNT_BAND))
    small = F.col("l_quantity") < quantity
    lines = lineitem.filter(in_period("l_shipdate", start, months=YEAR) & in_band & small)
    return lines.agg(F.sum(F.col("l_extendedprice") * F.col("l_discount")).alias("revenue")).select(
        F.col("revenue").cast("decimal(38,4)").alias("revenue")
    )

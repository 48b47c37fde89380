"""TPC-H Q20: suppliers with more of a color's parts in stock than half a year's shipments."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from pyspark_jobs.tpch.transforms import in_period, suppliers_in_nation

if TYPE_CHECKING:
    from datetime import date

    from pyspark.sql import DataFrame

__all__ = ["parts_named", "shipped_quantities", "overstocked_offers", "overstocked_suppliers"]

YEAR = 12  # months
EXCESS_SHARE = Decimal("0.5")  # stock above this share of the year's shipments is excess


def parts_named(part: DataFrame, *, color: str) -> DataFrame:
    """(p_partkey) of the parts whose name starts with `color`."""
    return part.filter(F.col("p_name").startswith(color)).select("p_partkey")


def shipped_quantities(lineitem: DataFrame, parts: DataFrame, *, start: date) -> DataFrame:
    """(l_partkey, l_suppkey, shipped): quantity of the parts shipped per part and supplier in the
    year from `start`. The lines are narrowed to the parts before they are summed, so only
    the parts' lines are aggregated and shuffled."""
    shipped = lineitem.filter(in_period("l_shipdate", start, months=YEAR))
    return (
        shipped.join(parts, on=F.col("l_partkey") == F.col("p_partkey"), how="left_semi")
        .groupBy("l_partkey", "l_suppkey")
        .agg(F.sum("l_quantity").alias("shipped"))
    )


def overstocked_offers(partsupp: DataFrame, parts: DataFrame, shipped: DataFrame) -> DataFrame:
    """(ps_suppkey): offers of the parts whose stock exceeds half the year's shipments.

    An offer that shipped nothing in the year is left out, as the legacy query's null
    comparison left it out."""
    offers = partsupp.join(parts, on=F.col("ps_partkey") == F.col("p_partkey"), how="left_semi")
    same_offer = (F.col("ps_partkey") == F.col("l_partkey")) & (F.col("ps_suppkey") == F.col("l_suppkey"))
    with_shipped = offers.join(shipped, on=same_offer, how="inner")
    overstocked = F.col("ps_availqty") > F.lit(EXCESS_SHARE) * F.col("shipped")
    return with_shipped.filter(overstocked).select("ps_suppkey")


def overstocked_suppliers(
    supplier: DataFrame, nation: DataFrame, overstocked: DataFrame, *, nation_name: str
) -> DataFrame:
    """Name and address of the nation's suppliers with at least one overstocked offer."""
    local = suppliers_in_nation(supplier, nation, nation_name=nation_name)
    return local.join(overstocked, on=F.col("s_suppkey") == F.col("ps_suppkey"), how="left_semi").select(
        "s_name", "s_address"
    )

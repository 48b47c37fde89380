"""TPC-H Q08: one nation's share of a region's revenue for a part type, by year."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from pyspark_jobs.tpch.transforms import (
    nations_in_region,
    revenue,
    with_supplier_nation,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["region_orders", "market_share"]

# The query's two order years, both days included.
FIRST_ORDER_DATE = date(1995, 1, 1)
LAST_ORDER_DATE = date(1996, 12, 31)


def region_orders(
    orders: DataFrame, customer: DataFrame, nation: DataFrame, region: DataFrame, *, region_name: str
) -> DataFrame:
    """(o_orderkey, o_year) of the 1995-1996 orders of the region's customers."""
    nations = nations_in_region(nation, region, region_name=region_name)
    customers = customer.join(nations, on=F.col("c_nationkey") == F.col("n_nationkey"), how="left_semi")
    placed = orders.filter(F.col("o_orderdate").between(F.lit(FIRST_ORDER_DATE), F.lit(LAST_ORDER_DATE)))
    return placed.join(customers, on=F.col("o_custkey") == F.col("c_custkey"), how="left_semi").select(
        "o_orderkey", F.year("o_orderdate").alias("o_year")
    )


def market_share(
    lineitem: DataFrame,
    part: DataFrame,
    orders: DataFrame,
    supplier: DataFrame,
    nation: DataFrame,
    *,
    supplier_nation: str,
    part_type: str,
) -> DataFrame:
    """Per order year, the revenue share of the part type's lines supplied from `supplier_nation`."""
    parts = part.filter(F.col("p_type") == part_type).select("p_partkey")
    lines = (
        lineitem.join(parts, on=F.col("l_partkey") == F.col("p_partkey"), how="left_semi")
        .select("l_orderkey", "l_suppkey", revenue().alias("volume"))
        .join(orders, on=F.col("l_orderkey") == F.col("o_orderkey"), how="inner")
    )
    supplied = with_supplier_nation(lines, supplier, nation, key="l_suppkey", name="supp_nation")
    nation_volume = F.when(F.col("supp_nation") == supplier_nation, F.col("volume")).otherwise(0)
    return (
        supplied.groupBy("o_year")
        .agg((F.sum(nation_volume) / F.sum("volume")).alias("mkt_share"))
        .select("o_year", F.col("mkt_share").cast("decimal(38,6)").alias("mkt_share"))
    )

"""TPC-H Q05: revenue from customers buying from suppliers of their own nation, in a region."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from pyspark_jobs.tpch.transforms import in_period, nations_in_region, revenue

if TYPE_CHECKING:
    from datetime import date

    from pyspark.sql import DataFrame

__all__ = ["suppliers_of_region", "orders_in_year", "local_supplier_revenue"]

YEAR = 12  # months


def suppliers_of_region(supplier: DataFrame, nation: DataFrame, region: DataFrame, *, region_name: str) -> DataFrame:
    """(s_suppkey, s_nationkey, n_name) of the region's suppliers."""
    nations = nations_in_region(nation, region, region_name=region_name)
    return supplier.join(nations, on=F.col("s_nationkey") == F.col("n_nationkey"), how="inner").select(
        "s_suppkey", "s_nationkey", "n_name"
    )


def orders_in_year(orders: DataFrame, customer: DataFrame, *, start: date) -> DataFrame:
    """(o_orderkey, c_nationkey) of the orders placed in the year from `start`."""
    placed = orders.filter(in_period("o_orderdate", start, months=YEAR))
    return placed.join(
        customer.select("c_custkey", "c_nationkey"), on=F.col("o_custkey") == F.col("c_custkey"), how="inner"
    ).select("o_orderkey", "c_nationkey")


def local_supplier_revenue(lineitem: DataFrame, orders: DataFrame, suppliers: DataFrame) -> DataFrame:
    """Revenue by nation of the lines whose supplier is in the customer's nation; summed after
    the joins, see `revenue`."""
    lines = lineitem.select("l_orderkey", "l_suppkey", "l_extendedprice", "l_discount").join(
        orders, on=F.col("l_orderkey") == F.col("o_orderkey"), how="inner"
    )
    same_nation = (F.col("l_suppkey") == F.col("s_suppkey")) & (F.col("c_nationkey") == F.col("s_nationkey"))
    return (
        lines.join(suppliers, on=same_nation, how="inner")
        .groupBy("n_name")
        .agg(F.sum(revenue()).alias("revenue"))
        .select("n_name", F.col("revenue").cast("decimal(38,4)").alias("revenue"))
    )

"""TPC-H Q07: revenue of the goods shipped between two nations, by direction and year."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from pyspark_jobs.tpch.transforms import revenue, with_supplier_nation

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["supplier_lines", "volume_between"]

# The query's two ship years, both days included.
FIRST_SHIP_DATE = date(1995, 1, 1)
LAST_SHIP_DATE = date(1996, 12, 31)


def supplier_lines(
    lineitem: DataFrame, supplier: DataFrame, nation: DataFrame, *, nations: tuple[str, ...]
) -> DataFrame:
    """Lines of 1995-1996 shipped by suppliers of the nations, with `supp_nation` and `l_year`."""
    shipped = lineitem.filter(F.col("l_shipdate").between(F.lit(FIRST_SHIP_DATE), F.lit(LAST_SHIP_DATE))).select(
        "l_orderkey", "l_suppkey", F.year("l_shipdate").alias("l_year"), revenue().alias("volume")
    )
    of_nations = nation.filter(F.col("n_name").isin(*nations))
    return with_supplier_nation(shipped, supplier, of_nations, key="l_suppkey", name="supp_nation")


def volume_between(
    lines: DataFrame, orders: DataFrame, customer: DataFrame, nation: DataFrame, *, nation1: str, nation2: str
) -> DataFrame:
    """Revenue by supplier nation, customer nation and year, for the two directions of the pair."""
    nations = nation.filter(F.col("n_name").isin(nation1, nation2)).select(
        "n_nationkey", F.col("n_name").alias("cust_nation")
    )
    customers = customer.join(nations, on=F.col("c_nationkey") == F.col("n_nationkey"), how="inner").select(
        "c_custkey", "cust_nation"
    )
    buyers = orders.select("o_orderkey", "o_custkey").join(
        customers, on=F.col("o_custkey") == F.col("c_custkey"), how="inner"
    )
    shipped = lines.join(buyers, on=F.col("l_orderkey") == F.col("o_orderkey"), how="inner")
    one_way = (F.col("supp_nation") == nation1) & (F.col("cust_nation") == nation2)
    other_way = (F.col("supp_nation") == nation2) & (F.col("cust_nation") == nation1)
    return (
        shipped.filter(one_way | other_way)
        .groupBy("supp_nation", "cust_nation", "l_year")
        .agg(F.sum("volume").alias("revenue"))
        .select("supp_nation", "cust_nation", "l_year", F.col("revenue").cast("decimal(38,4)").alias("revenue"))
    )

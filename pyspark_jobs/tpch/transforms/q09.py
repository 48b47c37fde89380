"""TPC-H Q09: profit on the parts whose name has a color in it, by supplier nation and year."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from pyspark_jobs.tpch.transforms import revenue, with_supplier_nation

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["line_profit", "profit_by_nation_year"]


def line_profit(lineitem: DataFrame, part: DataFrame, partsupp: DataFrame, *, color: str) -> DataFrame:
    """(l_orderkey, l_suppkey, amount): revenue less supply cost of the lines of those parts."""
    parts = part.filter(F.col("p_name").contains(color)).select("p_partkey")
    lines = lineitem.join(parts, on=F.col("l_partkey") == F.col("p_partkey"), how="left_semi")
    offers = partsupp.select("ps_partkey", "ps_suppkey", "ps_supplycost")
    same_offer = (F.col("l_partkey") == F.col("ps_partkey")) & (F.col("l_suppkey") == F.col("ps_suppkey"))
    amount = revenue() - F.col("ps_supplycost") * F.col("l_quantity")
    return lines.join(offers, on=same_offer, how="inner").select("l_orderkey", "l_suppkey", amount.alias("amount"))


def profit_by_nation_year(lines: DataFrame, supplier: DataFrame, nation: DataFrame, orders: DataFrame) -> DataFrame:
    """Summed profit by supplier nation and order year."""
    order_years = orders.select("o_orderkey", F.year("o_orderdate").alias("o_year"))
    return (
        with_supplier_nation(lines, supplier, nation, key="l_suppkey", name="nation")
        .join(order_years, on=F.col("l_orderkey") == F.col("o_orderkey"), how="inner")
        .groupBy("nation", "o_year")
        .agg(F.sum("amount").alias("sum_profit"))
        .select("nation", "o_year", F.col("sum_profit").cast("decimal(38,4)").alias("sum_profit"))
    )

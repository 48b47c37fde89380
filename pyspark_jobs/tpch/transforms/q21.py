"""TPC-H Q21: suppliers who were the only late one on an order that also had other suppliers.

The legacy query says this with EXISTS / NOT EXISTS over lineitem twice; here each order's
lines are aggregated once: a late line is the only late supplier's when its order has two or
more suppliers and exactly one late supplier."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from pyspark_jobs.tpch.transforms import suppliers_in_nation

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

__all__ = ["suppliers_per_order", "lines_late_alone", "waiting_by_supplier"]

FINISHED = "F"  # o_orderstatus of an order whose lines have all shipped
TOP = 100


def _late() -> Column:
    return F.col("l_receiptdate") > F.col("l_commitdate")


def suppliers_per_order(lineitem: DataFrame) -> DataFrame:
    """(l_orderkey, several_suppliers, one_late_supplier) of each order.

    The order's smallest and largest supplier keys, of all its lines and of its late lines,
    answer both questions: counting distinct suppliers twice instead would make Spark expand
    every line into two rows and aggregate them in two more shuffles."""
    late_supplier = F.when(_late(), F.col("l_suppkey"))
    several = F.min("l_suppkey") < F.max("l_suppkey")
    # with no late line both are null: no late supplier, so not exactly one
    one_late = F.coalesce(F.min(late_supplier) == F.max(late_supplier), F.lit(False))
    return lineitem.groupBy("l_orderkey").agg(
        several.alias("several_suppliers"), one_late.alias("one_late_supplier")
    )


def lines_late_alone(lineitem: DataFrame, suppliers_per_order: DataFrame) -> DataFrame:
    """(l_orderkey, l_suppkey) of late lines whose supplier was the only late one of several."""
    shared_and_late_alone = F.col("several_suppliers") & F.col("one_late_supplier")
    orders = suppliers_per_order.filter(shared_and_late_alone).select("l_orderkey")
    late = lineitem.filter(_late()).select("l_orderkey", "l_suppkey")
    return late.join(orders, on="l_orderkey", how="inner")


def waiting_by_supplier(
    lines: DataFrame, orders: DataFrame, supplier: DataFrame, nation: DataFrame, *, nation_name: str
) -> DataFrame:
    """Per supplier of the nation, its lines late alone on finished orders; the most first."""
    finished = orders.filter(F.col("o_orderstatus") == FINISHED).select("o_orderkey")
    on_finished = lines.join(finished, on=F.col("l_orderkey") == F.col("o_orderkey"), how="left_semi")
    local = suppliers_in_nation(supplier, nation, nation_name=nation_name).select("s_suppkey", "s_name")
    blamed = on_finished.join(local, on=F.col("l_suppkey") == F.col("s_suppkey"), how="inner")
    counts = blamed.groupBy("s_name").agg(F.count(F.lit(1)).alias("numwait"))
    return counts.orderBy(F.col("numwait").desc(), F.col("s_name").asc()).limit(TOP)

"""TPC-H Q18: the customers who placed large orders."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import functions as F

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["large_orders", "top_large_orders"]

TOP = 100


def large_orders(lineitem: DataFrame, *, quantity: int) -> DataFrame:
    """(l_orderkey, total_quantity) of the orders whose lines add up to more than `quantity`."""
    totals = lineitem.groupBy("l_orderkey").agg(F.sum("l_quantity").alias("total_quantity"))
    return totals.filter(F.col("total_quantity") > quantity)


def top_large_orders(large_orders: DataFrame, orders: DataFrame, customer: DataFrame) -> DataFrame:
    """The most expensive large orders, newest price ties last, with their customers."""
    with_order = large_orders.join(orders, on=F.col("l_orderkey") == F.col("o_orderkey"), how="inner")
    customers = customer.select("c_custkey", "c_name")
    with_customer = with_order.join(customers, on=F.col("o_custkey") == F.col("c_custkey"), how="inner")
    top = with_customer.orderBy(F.col("o_totalprice").desc(), F.col("o_orderdate").asc()).limit(TOP)
    return top.select(
        "c_name",
        "c_custkey",
        "o_orderkey",
        "o_orderdate",
        "o_totalprice",
        F.col("total_quantity").alias("sum(l_quantity)"),
    )

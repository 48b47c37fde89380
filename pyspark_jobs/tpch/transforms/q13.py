"""TPC-H Q13: the distribution of customers by how many orders they placed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import functions as F

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["orders_per_customer", "customer_distribution"]


def orders_per_customer(orders: DataFrame, *, word1: str, word2: str) -> DataFrame:
    """(o_custkey, orders): orders per customer, except those whose comment has word1 … word2."""
    excluded = F.col("o_comment").like(f"%{word1}%{word2}%")
    return orders.filter(~excluded).groupBy("o_custkey").agg(F.count(F.lit(1)).alias("orders"))


def customer_distribution(customer: DataFrame, orders_per_customer: DataFrame) -> DataFrame:
    """How many customers have each order count; customers without orders count as 0."""
    customers = customer.select("c_custkey")
    counted = customers.join(
        orders_per_customer, on=F.col("c_custkey") == F.col("o_custkey"), how="left"
    ).select(F.coalesce(F.col("orders"), F.lit(0).cast("bigint")).alias("c_count"))
    return counted.groupBy("c_count").agg(F.count(F.lit(1)).alias("custdist"))

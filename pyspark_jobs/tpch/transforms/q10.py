"""TPC-H Q10: the customers whose returns of a quarter's orders lost the most revenue."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from pyspark_jobs.tpch.transforms import in_period, revenue, with_nation

if TYPE_CHECKING:
    from datetime import date

    from pyspark.sql import DataFrame

__all__ = ["returned_revenue", "top_returning_customers"]

QUARTER = 3  # months
RETURNED = "R"  # l_returnflag of a returned line
ROWS = 20  # the query's LIMIT
CUSTOMER_COLUMNS = ("c_custkey", "c_name", "c_acctbal", "c_address", "c_phone", "c_comment", "c_nationkey")


def returned_revenue(lineitem: DataFrame, orders: DataFrame, *, start: date) -> DataFrame:
    """(o_custkey, revenue): revenue of the returned lines of orders placed in the quarter, summed
    after the join (see `revenue`)."""
    returned = lineitem.filter(F.col("l_returnflag") == RETURNED).select("l_orderkey", "l_extendedprice", "l_discount")
    placed = orders.filter(in_period("o_orderdate", start, months=QUARTER)).select("o_orderkey", "o_custkey")
    return (
        returned.join(placed, on=F.col("l_orderkey") == F.col("o_orderkey"), how="inner")
        .groupBy("o_custkey")
        .agg(F.sum(revenue()).alias("revenue"))
    )


def top_returning_customers(returned: DataFrame, customer: DataFrame, nation: DataFrame) -> DataFrame:
    """The customers with the most returned revenue (ties by key), with their details and nation."""
    customers = with_nation(customer.select(*CUSTOMER_COLUMNS), nation, key="c_nationkey")
    ranked = returned.join(customers, on=F.col("o_custkey") == F.col("c_custkey"), how="inner")
    return (
        ranked.orderBy(F.col("revenue").desc(), "c_custkey")
        .limit(ROWS)
        .select(
            "c_custkey",
            "c_name",
            F.col("revenue").cast("decimal(38,4)").alias("revenue"),
            "c_acctbal",
            "n_name",
            "c_address",
            "c_phone",
            "c_comment",
        )
    )

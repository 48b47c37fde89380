"""TPC-H Q22: customers likely to buy, by the country code of their phone number."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import functions as F

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["customers_in_countries", "idle_customers_by_country"]

CODE_LENGTH = 2  # leading characters of c_phone


def customers_in_countries(customer: DataFrame, *, codes: tuple[str, ...]) -> DataFrame:
    """(cntrycode, c_custkey, c_acctbal) of the customers whose phone starts with one of the codes."""
    return customer.select(
        F.substring("c_phone", 1, CODE_LENGTH).alias("cntrycode"), "c_custkey", "c_acctbal"
    ).filter(F.col("cntrycode").isin(*codes))


def idle_customers_by_country(candidates: DataFrame, orders: DataFrame) -> DataFrame:
    """Per code, the candidates who never ordered and whose balance beats the average positive one."""
    average = candidates.filter(F.col("c_acctbal") > 0).agg(F.avg("c_acctbal").alias("average_acctbal"))
    above = candidates.join(average, on=F.col("c_acctbal") > F.col("average_acctbal"), how="inner")
    buyers = orders.select("o_custkey")
    idle = above.join(buyers, on=F.col("c_custkey") == F.col("o_custkey"), how="left_anti")
    return idle.groupBy("cntrycode").agg(
        F.count(F.lit(1)).alias("numcust"), F.sum("c_acctbal").alias("totacctbal")
    )

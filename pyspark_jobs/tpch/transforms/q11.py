"""TPC-H Q11: the parts that make up more than a fraction of one nation's stock value."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from pyspark_jobs.tpch.transforms import suppliers_in_nation

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["nation_stock", "important_stock"]


def nation_stock(partsupp: DataFrame, supplier: DataFrame, nation: DataFrame, *, nation_name: str) -> DataFrame:
    """(ps_partkey, value): supply cost times available quantity of the nation's suppliers' stock."""
    suppliers = suppliers_in_nation(supplier, nation, nation_name=nation_name).select("s_suppkey")
    return partsupp.join(suppliers, on=F.col("ps_suppkey") == F.col("s_suppkey"), how="left_semi").select(
        "ps_partkey", (F.col("ps_supplycost") * F.col("ps_availqty")).alias("value")
    )


def important_stock(stock: DataFrame, *, fraction: float) -> DataFrame:
    """Per part, its stock value, kept when above `fraction` of the whole stock's value."""
    per_part = stock.groupBy("ps_partkey").agg(F.sum("value").alias("value"))
    # Decimal keeps the threshold exact, as the SQL's decimal literal does.
    threshold = per_part.agg((F.sum("value") * F.lit(Decimal(str(fraction)))).alias("threshold"))
    return (
        per_part.join(threshold, how="cross")
        .filter(F.col("value") > F.col("threshold"))
        .select("ps_partkey", F.col("value").cast("decimal(36,2)").alias("value"))
    )

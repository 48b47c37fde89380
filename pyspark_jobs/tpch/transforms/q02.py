"""TPC-H Q02: for parts of one size and type, the region's suppliers at the lowest cost."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import Window as W
from pyspark.sql import functions as F

from pyspark_jobs.tpch.transforms import nations_in_region

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["parts_of", "suppliers_of_region", "cheapest_suppliers"]

ROWS = 100  # the query's LIMIT
SUPPLIER_COLUMNS = ("s_suppkey", "s_name", "s_address", "s_phone", "s_acctbal", "s_comment")


def parts_of(part: DataFrame, *, size: int, type_suffix: str) -> DataFrame:
    """Parts of the size whose type ends with `type_suffix` (e.g. '... BRASS')."""
    wanted = (F.col("p_size") == size) & F.col("p_type").endswith(type_suffix)
    return part.filter(wanted).select("p_partkey", "p_mfgr")


def suppliers_of_region(supplier: DataFrame, nation: DataFrame, region: DataFrame, *, region_name: str) -> DataFrame:
    """The region's suppliers with their nation name."""
    nations = nations_in_region(nation, region, region_name=region_name)
    return supplier.join(nations, on=F.col("s_nationkey") == F.col("n_nationkey"), how="inner").select(
        *SUPPLIER_COLUMNS, "n_name"
    )


def cheapest_suppliers(parts: DataFrame, partsupp: DataFrame, suppliers: DataFrame) -> DataFrame:
    """Each part's offers at its lowest cost among the suppliers given; the richest first."""
    offers = (
        partsupp.select("ps_partkey", "ps_suppkey", "ps_supplycost")
        .join(parts, on=F.col("ps_partkey") == F.col("p_partkey"), how="inner")
        .join(suppliers, on=F.col("ps_suppkey") == F.col("s_suppkey"), how="inner")
    )
    per_part = W.partitionBy("p_partkey").rowsBetween(W.unboundedPreceding, W.unboundedFollowing)
    lowest = offers.withColumn("__lowest_cost", F.min("ps_supplycost").over(per_part))
    cheapest = lowest.filter(F.col("ps_supplycost") == F.col("__lowest_cost"))
    return (
        cheapest.orderBy(F.col("s_acctbal").desc(), "n_name", "s_name", "p_partkey")
        .limit(ROWS)
        .select("s_acctbal", "s_name", "n_name", "p_partkey", "p_mfgr", "s_address", "s_phone", "s_comment")
    )

"""TPC-H Q16: how many suppliers, none with customer complaints, offer parts of given sizes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import functions as F

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["wanted_parts", "supplier_counts"]

COMPLAINTS = "%Customer%Complaints%"


def wanted_parts(part: DataFrame, *, brand: str, type_prefix: str, sizes: tuple[int, ...]) -> DataFrame:
    """Parts of the sizes, except the brand and the types starting with `type_prefix`."""
    wanted = (
        (F.col("p_brand") != brand) & ~F.col("p_type").startswith(type_prefix) & F.col("p_size").isin(*sizes)
    )
    return part.filter(wanted).select("p_partkey", "p_brand", "p_type", "p_size")


def supplier_counts(partsupp: DataFrame, parts: DataFrame, supplier: DataFrame) -> DataFrame:
    """Distinct suppliers without complaints per brand, type and size of the parts."""
    complained = supplier.filter(F.col("s_comment").like(COMPLAINTS)).select("s_suppkey")
    offers = partsupp.join(complained, on=F.col("ps_suppkey") == F.col("s_suppkey"), how="left_anti")
    offered = offers.join(parts, on=F.col("ps_partkey") == F.col("p_partkey"), how="inner")
    return offered.groupBy("p_brand", "p_type", "p_size").agg(
        F.countDistinct("ps_suppkey").alias("supplier_cnt")
    )

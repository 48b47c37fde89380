"""Transforms several TPC-H queries (and the demo) share: revenue, nation/region enrichment,
supplier and part joins. Pure `DataFrame -> DataFrame` functions, no session and no I/O."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

if TYPE_CHECKING:
    from datetime import date

__all__ = ["revenue", "with_nation", "with_region", "nations_in_region", "in_period", "suppliers_in_nation",
           "with_supplier_nation"]


def revenue() -> Column:
    """TPC-H revenue of a line: extended price less discount.

    A decimal(32,4), too wide for Spark's compact decimals: computing it for every line before a
    join and shuffling it costs more than shuffling price and discount and summing it after the
    join (`F.sum(revenue())`)."""
    return F.col("l_extendedprice") * (F.lit(1) - F.col("l_discount"))


def with_nation(df: DataFrame, nation: DataFrame, *, key: str, prefix: str = "n") -> DataFrame:
    """Adds `{prefix}_name` and `{prefix}_regionkey` for the nation key column `key`."""
    names = nation.select(
        F.col("n_nationkey").alias(f"__{prefix}_key"),
        F.col("n_name").alias(f"{prefix}_name"),
        F.col("n_regionkey").alias(f"{prefix}_regionkey"),
    )
    return df.join(names, on=F.col(key) == F.col(f"__{prefix}_key"), how="inner").drop(f"__{prefix}_key")


def with_region(df: DataFrame, region: DataFrame, *, key: str, prefix: str = "r") -> DataFrame:
    """Adds `{prefix}_name` for the region key column `key`."""
    names = region.select(F.col("r_regionkey").alias(f"__{prefix}_key"), F.col("r_name").alias(f"{prefix}_name"))
    return df.join(names, on=F.col(key) == F.col(f"__{prefix}_key"), how="inner").drop(f"__{prefix}_key")


def nations_in_region(nation: DataFrame, region: DataFrame, *, region_name: str) -> DataFrame:
    """The nations (n_nationkey, n_name) of one region."""
    regions = region.filter(F.col("r_name") == region_name).select("r_regionkey")
    return nation.join(regions, on=nation["n_regionkey"] == regions["r_regionkey"], how="inner").select(
        "n_nationkey", "n_name"
    )


def in_period(column: str, start: date, *, months: int) -> Column:
    """`start <= column < start + months`: TPC-H's `date 'D' + interval 'N' month|year` windows."""
    first = F.lit(start)
    return (F.col(column) >= first) & (F.col(column) < F.add_months(first, months))


def suppliers_in_nation(supplier: DataFrame, nation: DataFrame, *, nation_name: str) -> DataFrame:
    """The supplier rows whose nation is `nation_name` (supplier columns only)."""
    nations = nation.filter(F.col("n_name") == nation_name).select("n_nationkey")
    return supplier.join(nations, on=supplier["s_nationkey"] == nations["n_nationkey"], how="left_semi")


def with_supplier_nation(df: DataFrame, supplier: DataFrame, nation: DataFrame, *, key: str, name: str) -> DataFrame:
    """Adds `name`: the nation name of the supplier whose key is in column `key` (inner join)."""
    suppliers = with_nation(supplier.select("s_suppkey", "s_nationkey"), nation, key="s_nationkey", prefix="__sn")
    names = suppliers.select(F.col("s_suppkey").alias("__supplier"), F.col("__sn_name").alias(name))
    return df.join(names, on=F.col(key) == F.col("__supplier"), how="inner").drop("__supplier")

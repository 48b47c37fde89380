"""The demonstration job's transforms: one shared, expensive intermediate, three reports.

They compute every day of the run's days at once (the job is a range_plan job): each row
carries `ds`, the day its lines were shipped, and every report is grouped or ranked per ds."""

from __future__ import annotations

from datetime import date
from typing import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import Window as W
from pyspark.sql import functions as F

from pyspark_jobs.tpch.transforms import revenue, with_nation

__all__ = ["lines_shipped_on", "enrich_lines", "revenue_by_segment", "top_customers", "revenue_by_shipmode", "iso_alpha2", "with_iso_code"]

AMOUNT = "decimal(38,4)"


def lines_shipped_on(lineitem: DataFrame, *, days: Sequence[str]) -> DataFrame:
    """Lines shipped on any of `days` (YYYY-MM-DD), with their revenue and their ship date as
    `ds` (a date cast to string is YYYY-MM-DD)."""
    shipped = [date.fromisoformat(ds) for ds in days]
    return lineitem.filter(F.col("l_shipdate").isin(shipped)).select(
        "l_orderkey", "l_shipmode", F.col("l_shipdate").cast("string").alias("ds"), revenue().alias("revenue")
    )


def enrich_lines(lines: DataFrame, orders: DataFrame, customer: DataFrame, nation: DataFrame) -> DataFrame:
    """Lake facts joined with the MySQL customer and nation dimensions; each line keeps its ds."""
    with_orders = lines.join(
        orders.select("o_orderkey", "o_custkey", "o_orderpriority"),
        on=F.col("l_orderkey") == F.col("o_orderkey"),
        how="inner",
    )
    with_customer = with_orders.join(
        customer.select("c_custkey", "c_name", "c_mktsegment", "c_nationkey"),
        on=F.col("o_custkey") == F.col("c_custkey"),
        how="inner",
    )
    return with_nation(with_customer, nation, key="c_nationkey").select(
        "ds", "o_orderkey", "o_orderpriority", "l_shipmode", "c_custkey", "c_name", "c_mktsegment",
        "n_name", "revenue",
    )


def revenue_by_segment(enriched: DataFrame) -> DataFrame:
    """Per ds, customer nation and market segment: the orders (each counted once) and revenue."""
    return (
        enriched.groupBy("ds", "n_name", "c_mktsegment")
        .agg(F.countDistinct("o_orderkey").alias("orders"), F.sum("revenue").alias("revenue"))
        .select("n_name", "c_mktsegment", "orders", F.col("revenue").cast(AMOUNT).alias("revenue"), "ds")
    )


def top_customers(enriched: DataFrame, *, top_n: int) -> DataFrame:
    """Each day's top customers by revenue, ranked within their ds; ties broken by customer key."""
    per_customer = enriched.groupBy("ds", "c_custkey", "c_name", "n_name").agg(F.sum("revenue").alias("revenue"))
    by_revenue = W.partitionBy("ds").orderBy(F.col("revenue").desc(), F.col("c_custkey").asc())
    ranked = per_customer.withColumn("rank", F.row_number().over(by_revenue))
    return ranked.filter(F.col("rank") <= top_n).select(
        F.col("rank").cast("int").alias("rank"),
        "c_custkey",
        "c_name",
        "n_name",
        F.col("revenue").cast(AMOUNT).alias("revenue"),
        "ds",
    )


def revenue_by_shipmode(enriched: DataFrame) -> DataFrame:
    """Per ds, ship mode and order priority: the lines and their revenue."""
    return (
        enriched.groupBy("ds", "l_shipmode", "o_orderpriority")
        .agg(F.count(F.lit(1)).alias("lines"), F.sum("revenue").alias("revenue"))
        .select("l_shipmode", "o_orderpriority", "lines", F.col("revenue").cast(AMOUNT).alias("revenue"), "ds")
    )

# TPC-H spells a few nations differently from ISO 3166's names.
ALIASES = {"RUSSIA": "Russian Federation", "IRAN": "Iran, Islamic Republic of", "VIETNAM": "Viet Nam"}


def iso_alpha2(name: str | None) -> str | None:
    import pycountry  # imported on the executor, from the branch's environment

    if name is None:
        return None
    try:
        return pycountry.countries.lookup(ALIASES.get(name.upper(), name.title())).alpha_2
    except LookupError:
        return None


def with_iso_code(nation: DataFrame) -> DataFrame:
    code = F.udf(iso_alpha2, "string")
    return nation.select("n_nationkey", "n_name", code(F.col("n_name")).alias("iso_alpha2"))

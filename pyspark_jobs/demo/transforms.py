"""The demonstration job's transforms: one shared, expensive intermediate, three reports."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import Window as W
from pyspark.sql import functions as F

from pyspark_jobs.tpch.transforms import revenue, with_nation

__all__ = ["lines_shipped_on", "enrich_lines", "revenue_by_segment", "top_customers", "revenue_by_shipmode", "iso_alpha2", "with_iso_code"]

AMOUNT = "decimal(38,4)"


def lines_shipped_on(lineitem: DataFrame, *, ds: str) -> DataFrame:
    """Lines shipped on the run date, with their revenue."""
    return lineitem.filter(F.col("l_shipdate") == F.to_date(F.lit(ds))).select(
        "l_orderkey", "l_shipmode", F.col("l_shipdate").alias("ship_date"), revenue().alias("revenue")
    )


def enrich_lines(lines: DataFrame, orders: DataFrame, customer: DataFrame, nation: DataFrame) -> DataFrame:
    """Lake facts joined with the MySQL customer and nation dimensions."""
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
        "ship_date", "o_orderkey", "o_orderpriority", "l_shipmode", "c_custkey", "c_name", "c_mktsegment",
        "n_name", "revenue",
    )


def revenue_by_segment(enriched: DataFrame) -> DataFrame:
    return (
        enriched.groupBy("n_name", "c_mktsegment")
        .agg(F.countDistinct("o_orderkey").alias("orders"), F.sum("revenue").alias("revenue"))
        .select("n_name", "c_mktsegment", "orders", F.col("revenue").cast(AMOUNT).alias("revenue"))
    )


def top_customers(enriched: DataFrame, *, top_n: int) -> DataFrame:
    """The day's top customers by revenue; ties broken by customer key."""
    per_customer = enriched.groupBy("ship_date", "c_custkey", "c_name", "n_name").agg(
        F.sum("revenue").alias("revenue")
    )
    by_revenue = W.partitionBy("ship_date").orderBy(F.col("revenue").desc(), F.col("c_custkey").asc())
    ranked = per_customer.withColumn("rank", F.row_number().over(by_revenue))
    return ranked.filter(F.col("rank") <= top_n).select(
        F.col("rank").cast("int").alias("rank"),
        "c_custkey",
        "c_name",
        "n_name",
        F.col("revenue").cast(AMOUNT).alias("revenue"),
    )


def revenue_by_shipmode(enriched: DataFrame) -> DataFrame:
    return (
        enriched.groupBy("l_shipmode", "o_orderpriority")
        .agg(F.count(F.lit(1)).alias("lines"), F.sum("revenue").alias("revenue"))
        .select("l_shipmode", "o_orderpriority", "lines", F.col("revenue").cast(AMOUNT).alias("revenue"))
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

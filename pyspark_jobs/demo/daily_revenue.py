"""The demonstration job: three daily reports over one shared join of lake facts and MySQL
dimensions. Run as separate SparkSqlOperator tasks, each report recomputed that join; here it
is computed once, cached, and released after the last report is written. Two reports are
Iceberg tables, the third a Hive-style parquet table, so every run exercises both formats.

It is a range_plan job: its steps compute every day of `p.days` at once, each row carrying its
ds, so a backfill reads the inputs and computes the join once for the whole range."""

from __future__ import annotations

from common.contracts import Column, Contract, Table
from common.job import Job, Param, RunParams, step
from pyspark_jobs.tpch.tables import CUSTOMER, LINEITEM, NATION, ORDERS

__all__ = ["DailyRevenue", "REVENUE_BY_SEGMENT", "TOP_CUSTOMERS", "REVENUE_BY_SHIPMODE"]

DS = Column("ds", "string", nullable=False, description="run date, YYYY-MM-DD")
AMOUNT = "decimal(38,4)"

REVENUE_BY_SEGMENT = Table(
    "demo.revenue_by_segment",
    Contract(
        (
            Column("n_name", "string", nullable=False),
            Column("c_mktsegment", "string", nullable=False),
            Column("orders", "bigint", nullable=False),
            Column("revenue", AMOUNT),
            DS,
        ),
        partition_by=("ds",),
        primary_key=("n_name", "c_mktsegment"),
    ),
    description="Revenue of the lines shipped on ds, by customer nation and market segment.",
)
TOP_CUSTOMERS = Table(
    "demo.top_customers",
    Contract(
        (
            Column("rank", "int", nullable=False),
            Column("c_custkey", "int", nullable=False),
            Column("c_name", "string", nullable=False),
            Column("n_name", "string", nullable=False),
            Column("revenue", AMOUNT),
            DS,
        ),
        partition_by=("ds",),
        primary_key=("rank",),
    ),
    description="The customers with the most revenue shipped on ds.",
)
REVENUE_BY_SHIPMODE = Table(
    "demo.revenue_by_shipmode",
    Contract(
        (
            Column("l_shipmode", "string", nullable=False),
            Column("o_orderpriority", "string", nullable=False),
            Column("lines", "bigint", nullable=False),
            Column("revenue", AMOUNT),
            DS,
        ),
        partition_by=("ds",),
        primary_key=("l_shipmode", "o_orderpriority"),
    ),
    description="Revenue of the lines shipped on ds, by ship mode and order priority.",
    format="hive",  # the demonstration writes one output as Hive-style parquet, the others as Iceberg
)


class DailyRevenue(Job):
    """Daily revenue by nation and segment, top customers, and revenue by ship mode."""

    name = "demo.daily_revenue"
    inputs = {"lineitem": LINEITEM, "orders": ORDERS, "customer": CUSTOMER, "nation": NATION}
    outputs = {
        "revenue_by_segment": REVENUE_BY_SEGMENT,
        "top_customers": TOP_CUSTOMERS,
        "revenue_by_shipmode": REVENUE_BY_SHIPMODE,
    }
    params = (Param("top_n", int, 10, "how many customers the top list keeps"),)
    range_plan = True

    def steps(self, p: RunParams):  # noqa: ANN201
        from pyspark_jobs.demo import transforms as t

        return {
            "lines": step(t.lines_shipped_on, "lineitem", days=p.days),
            "enriched": step(t.enrich_lines, "lines", "orders", "customer", "nation"),
            "revenue_by_segment": step(t.revenue_by_segment, "enriched"),
            "top_customers": step(t.top_customers, "enriched", top_n=p.top_n),
            "revenue_by_shipmode": step(t.revenue_by_shipmode, "enriched"),
        }

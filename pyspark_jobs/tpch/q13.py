"""TPC-H Q13, customer distribution: how many customers have placed how many orders, not
counting orders whose comment mentions two given words in order."""

from __future__ import annotations

from common.contracts import Column, Contract, Table
from common.job import Job, Param, RunParams, Step, step
from common.sql_job import SqlJob
from pyspark_jobs.tpch.tables import CUSTOMER, ORDERS

__all__ = ["RESULT", "Q13", "Q13Sql"]

RESULT = Contract(
    (
        Column("c_count", "bigint", nullable=False, description="orders per customer"),
        Column("custdist", "bigint", nullable=False, description="customers with that many orders"),
        Column("ds", "string", nullable=False),
    ),
    partition_by=("ds",),
    primary_key=("c_count",),
    sort_by=("custdist desc", "c_count desc"),
)
INPUTS = {"customer": CUSTOMER, "orders": ORDERS}
PARAMS = (
    Param("word1", str, "special", "first word of the comments to leave out"),
    Param("word2", str, "requests", "second word of the comments to leave out"),
)


class Q13(Job):
    """Customers by number of orders (TPC-H Q13)."""

    name = "tpch.q13"
    inputs = INPUTS
    outputs = {"q13": Table("tpch_reports.q13", RESULT)}
    params = PARAMS

    def steps(self, p: RunParams) -> dict[str, Step]:
        from pyspark_jobs.tpch.transforms import q13 as t

        return {
            "orders_per_customer": step(t.orders_per_customer, "orders", word1=p.word1, word2=p.word2),
            "q13": step(t.customer_distribution, "customer", "orders_per_customer"),
        }


class Q13Sql(SqlJob):
    """TPC-H Q13 as the legacy SQL task."""

    name = "tpch.q13_sql"
    sql_file = "sql/q13.sql"
    inputs = INPUTS
    outputs = {"q13": Table("tpch_legacy.q13", RESULT)}
    params = PARAMS

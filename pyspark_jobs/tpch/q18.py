"""TPC-H Q18, large volume customer: the customers behind the orders of more than a given
total quantity, the 100 most expensive orders first."""

from __future__ import annotations

from common.contracts import Column, Contract, Table
from common.job import Job, Param, RunParams, Step, step
from common.sql_job import SqlJob
from pyspark_jobs.tpch.tables import CUSTOMER, LINEITEM, ORDERS

__all__ = ["RESULT", "Q18", "Q18Sql"]

RESULT = Contract(
    (
        Column("c_name", "string", nullable=False),
        Column("c_custkey", "int", nullable=False),
        Column("o_orderkey", "bigint", nullable=False),
        Column("o_orderdate", "date", nullable=False),
        Column("o_totalprice", "decimal(15,2)", nullable=False),
        # The legacy query left the aggregate unnamed; the column keeps Spark's name for it.
        Column("sum(l_quantity)", "decimal(25,2)", description="total quantity of the order"),
        Column("ds", "string", nullable=False),
    ),
    partition_by=("ds",),
    primary_key=("o_orderkey",),
    sort_by=("o_totalprice desc", "o_orderdate"),
)
INPUTS = {"customer": CUSTOMER, "orders": ORDERS, "lineitem": LINEITEM}
PARAMS = (Param("quantity", int, 300, "an order is large above this total quantity"),)


class Q18(Job):
    """The 100 most expensive large orders and their customers (TPC-H Q18)."""

    name = "tpch.q18"
    inputs = INPUTS
    outputs = {"q18": Table("tpch_reports.q18", RESULT)}
    params = PARAMS

    def steps(self, p: RunParams) -> dict[str, Step]:
        from pyspark_jobs.tpch.transforms import q18 as t

        return {
            "large_orders": step(t.large_orders, "lineitem", quantity=p.quantity),
            "q18": step(t.top_large_orders, "large_orders", "orders", "customer"),
        }


class Q18Sql(SqlJob):
    """TPC-H Q18 as the legacy SQL task."""

    name = "tpch.q18_sql"
    sql_file = "sql/q18.sql"
    inputs = INPUTS
    outputs = {"q18": Table("tpch_legacy.q18", RESULT)}
    params = PARAMS

"""TPC-H Q10, returned item reporting: the customers whose returned lines of a quarter's
orders lost the most revenue."""

from __future__ import annotations

from datetime import date

from common.contracts import Column, Contract, Table
from common.job import Job, Param, RunParams, Step, step
from common.sql_job import SqlJob
from pyspark_jobs.tpch.tables import CUSTOMER, LINEITEM, NATION, ORDERS

__all__ = ["RESULT", "Q10", "Q10Sql"]

RESULT = Contract(
    (
        Column("c_custkey", "int", nullable=False),
        Column("c_name", "string", nullable=False),
        Column("revenue", "decimal(38,4)"),
        Column("c_acctbal", "decimal(15,2)", nullable=False),
        Column("n_name", "string", nullable=False),
        Column("c_address", "string", nullable=False),
        Column("c_phone", "string", nullable=False),
        Column("c_comment", "string", nullable=False),
        Column("ds", "string", nullable=False),
    ),
    partition_by=("ds",),
    primary_key=("c_custkey",),
    sort_by=("revenue desc",),
)
INPUTS = {"customer": CUSTOMER, "orders": ORDERS, "lineitem": LINEITEM, "nation": NATION}
PARAMS = (
    Param("date", date, date(1993, 10, 1), "first day of the quarter of the order date"),
)


class Q10(Job):
    """Customers losing the most revenue to returns in a quarter (TPC-H Q10)."""

    name = "tpch.q10"
    inputs = INPUTS
    outputs = {"q10": Table("tpch_reports.q10", RESULT)}
    params = PARAMS

    def steps(self, p: RunParams) -> dict[str, Step]:
        from pyspark_jobs.tpch.transforms import q10 as t

        return {
            "returned": step(t.returned_revenue, "lineitem", "orders", start=p.date),
            "q10": step(t.top_returning_customers, "returned", "customer", "nation"),
        }


class Q10Sql(SqlJob):
    """TPC-H Q10 as the legacy SQL task."""

    name = "tpch.q10_sql"
    sql_file = "sql/q10.sql"
    inputs = INPUTS
    outputs = {"q10": Table("tpch_legacy.q10", RESULT)}
    params = PARAMS

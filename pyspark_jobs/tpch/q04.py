"""TPC-H Q04, order priority checking: how many orders of a quarter had at least one line
received after its commit date, by order priority."""

from __future__ import annotations

from datetime import date

from common.contracts import Column, Contract, Table
from common.job import Job, Param, RunParams, Step, step
from common.sql_job import SqlJob
from pyspark_jobs.tpch.tables import LINEITEM, ORDERS

__all__ = ["RESULT", "Q04", "Q04Sql"]

RESULT = Contract(
    (
        Column("o_orderpriority", "string", nullable=False),
        Column("order_count", "bigint", nullable=False),
        Column("ds", "string", nullable=False),
    ),
    partition_by=("ds",),
    primary_key=("o_orderpriority",),
    sort_by=("o_orderpriority",),
)
INPUTS = {"orders": ORDERS, "lineitem": LINEITEM}
PARAMS = (
    Param("date", date, date(1993, 7, 1), "first day of the quarter of the order date"),
)


class Q04(Job):
    """Orders of a quarter with late lines, by priority (TPC-H Q04)."""

    name = "tpch.q04"
    inputs = INPUTS
    outputs = {"q04": Table("tpch_reports.q04", RESULT)}
    params = PARAMS

    def steps(self, p: RunParams) -> dict[str, Step]:
        from pyspark_jobs.tpch.transforms import q04 as t

        return {
            "quarter_orders": step(t.orders_in_quarter, "orders", start=p.date),
            "q04": step(t.late_order_counts, "quarter_orders", "lineitem"),
        }


class Q04Sql(SqlJob):
    """TPC-H Q04 as the legacy SQL task."""

    name = "tpch.q04_sql"
    sql_file = "sql/q04.sql"
    inputs = INPUTS
    outputs = {"q04": Table("tpch_legacy.q04", RESULT)}
    params = PARAMS

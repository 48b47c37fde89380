"""TPC-H Q12, shipping modes and order priority: late-received lines of two ship modes in a
year, split by whether their order was urgent or high priority."""

from __future__ import annotations

from datetime import date

from common.contracts import Column, Contract, Table
from common.job import Job, Param, RunParams, Step, step
from common.sql_job import SqlJob
from pyspark_jobs.tpch.tables import LINEITEM, ORDERS

__all__ = ["RESULT", "Q12", "Q12Sql"]

RESULT = Contract(
    (
        Column("l_shipmode", "string", nullable=False),
        Column("high_line_count", "bigint", description="lines of 1-URGENT or 2-HIGH orders"),
        Column("low_line_count", "bigint", description="lines of the other orders"),
        Column("ds", "string", nullable=False),
    ),
    partition_by=("ds",),
    primary_key=("l_shipmode",),
    sort_by=("l_shipmode",),
)
INPUTS = {"orders": ORDERS, "lineitem": LINEITEM}
PARAMS = (
    Param("shipmode1", str, "MAIL", "first ship mode"),
    Param("shipmode2", str, "SHIP", "second ship mode"),
    Param("date", date, date(1994, 1, 1), "first day of the year of receipt"),
)


class Q12(Job):
    """Late lines of two ship modes by order priority class (TPC-H Q12)."""

    name = "tpch.q12"
    inputs = INPUTS
    outputs = {"q12": Table("tpch_reports.q12", RESULT)}
    params = PARAMS

    def steps(self, p: RunParams) -> dict[str, Step]:
        from pyspark_jobs.tpch.transforms import q12 as t

        return {
            "late_lines": step(t.late_lines, "lineitem", shipmodes=(p.shipmode1, p.shipmode2), start=p.date),
            "q12": step(t.line_counts_by_priority, "late_lines", "orders"),
        }


class Q12Sql(SqlJob):
    """TPC-H Q12 as the legacy SQL task."""

    name = "tpch.q12_sql"
    sql_file = "sql/q12.sql"
    inputs = INPUTS
    outputs = {"q12": Table("tpch_legacy.q12", RESULT)}
    params = PARAMS

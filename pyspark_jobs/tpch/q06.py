"""TPC-H Q06, forecasting revenue change: the revenue a year of small-quantity lines would
have added without their discount, for discounts within a cent of a given one."""

from __future__ import annotations

from datetime import date

from common.contracts import Column, Contract, Table
from common.job import Job, Param, RunParams, Step, step
from common.sql_job import SqlJob
from pyspark_jobs.tpch.tables import LINEITEM

__all__ = ["RESULT", "Q06", "Q06Sql"]

RESULT = Contract(
    (
        Column("revenue", "decimal(38,4)", description="null when no line qualifies"),
        Column("ds", "string", nullable=False),
    ),
    partition_by=("ds",),
    primary_key=(),
    sort_by=(),
)
INPUTS = {"lineitem": LINEITEM}
PARAMS = (
    Param("date", date, date(1994, 1, 1), "first day of the year of the ship date"),
    Param("discount", float, 0.06, "discount, plus or minus 0.01"),
    Param("quantity", int, 24, "lines of fewer units than this"),
)


class Q06(Job):
    """Revenue the discounts of small lines cost in a year (TPC-H Q06)."""

    name = "tpch.q06"
    inputs = INPUTS
    outputs = {"q06": Table("tpch_reports.q06", RESULT)}
    params = PARAMS

    def steps(self, p: RunParams) -> dict[str, Step]:
        from pyspark_jobs.tpch.transforms import q06 as t

        return {
            "q06": step(t.discount_revenue, "lineitem", start=p.date, discount=p.discount, quantity=p.quantity),
        }


class Q06Sql(SqlJob):
    """TPC-H Q06 as the legacy SQL task."""

    name = "tpch.q06_sql"
    sql_file = "sql/q06.sql"
    inputs = INPUTS
    outputs = {"q06": Table("tpch_legacy.q06", RESULT)}
    params = PARAMS

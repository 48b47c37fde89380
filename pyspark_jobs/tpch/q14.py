"""TPC-H Q14, promotion effect: the share of a month's revenue that came from promoted parts."""

from __future__ import annotations

from datetime import date

from common.contracts import Column, Contract, Table
from common.job import Job, Param, RunParams, Step, step
from common.sql_job import SqlJob
from pyspark_jobs.tpch.tables import LINEITEM, PART

__all__ = ["RESULT", "Q14", "Q14Sql"]

RESULT = Contract(
    (
        Column("promo_revenue", "decimal(38,6)", description="percent of the revenue from PROMO parts"),
        Column("ds", "string", nullable=False),
    ),
    partition_by=("ds",),
)
INPUTS = {"lineitem": LINEITEM, "part": PART}
PARAMS = (Param("date", date, date(1995, 9, 1), "first day of the month of shipment"),)


class Q14(Job):
    """Promotion revenue share of a month (TPC-H Q14)."""

    name = "tpch.q14"
    inputs = INPUTS
    outputs = {"q14": Table("tpch_reports.q14", RESULT)}
    params = PARAMS

    def steps(self, p: RunParams) -> dict[str, Step]:
        from pyspark_jobs.tpch.transforms import q14 as t

        return {
            "month_lines": step(t.lines_shipped_in_month, "lineitem", start=p.date),
            "q14": step(t.promo_revenue_share, "month_lines", "part"),
        }


class Q14Sql(SqlJob):
    """TPC-H Q14 as the legacy SQL task."""

    name = "tpch.q14_sql"
    sql_file = "sql/q14.sql"
    inputs = INPUTS
    outputs = {"q14": Table("tpch_legacy.q14", RESULT)}
    params = PARAMS

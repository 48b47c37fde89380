"""TPC-H Q15, top supplier: the supplier(s) with the most revenue in a quarter."""

from __future__ import annotations

from datetime import date

from common.contracts import Column, Contract, Table
from common.job import Job, Param, RunParams, Step, step
from common.sql_job import SqlJob
from pyspark_jobs.tpch.tables import LINEITEM, SUPPLIER

__all__ = ["RESULT", "Q15", "Q15Sql"]

RESULT = Contract(
    (
        Column("s_suppkey", "int", nullable=False),
        Column("s_name", "string", nullable=False),
        Column("s_address", "string", nullable=False),
        Column("s_phone", "string", nullable=False),
        Column("total_revenue", "decimal(38,4)", description="the supplier's revenue in the quarter"),
        Column("ds", "string", nullable=False),
    ),
    partition_by=("ds",),
    primary_key=("s_suppkey",),
    sort_by=("s_suppkey",),
)
INPUTS = {"lineitem": LINEITEM, "supplier": SUPPLIER}
PARAMS = (Param("date", date, date(1996, 1, 1), "first day of the quarter of shipment"),)


class Q15(Job):
    """The quarter's top supplier by revenue (TPC-H Q15)."""

    name = "tpch.q15"
    inputs = INPUTS
    outputs = {"q15": Table("tpch_reports.q15", RESULT)}
    params = PARAMS

    def steps(self, p: RunParams) -> dict[str, Step]:
        from pyspark_jobs.tpch.transforms import q15 as t

        return {
            "revenue_per_supplier": step(t.revenue_per_supplier, "lineitem", start=p.date),
            "q15": step(t.top_suppliers, "revenue_per_supplier", "supplier"),
        }


class Q15Sql(SqlJob):
    """TPC-H Q15 as the legacy SQL task."""

    name = "tpch.q15_sql"
    sql_file = "sql/q15.sql"
    inputs = INPUTS
    outputs = {"q15": Table("tpch_legacy.q15", RESULT)}
    params = PARAMS

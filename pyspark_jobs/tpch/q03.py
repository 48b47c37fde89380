"""TPC-H Q03, shipping priority: the unshipped orders of a market segment with the most
revenue still to ship on a given date."""

from __future__ import annotations

from datetime import date

from common.contracts import Column, Contract, Table
from common.job import Job, Param, RunParams, Step, step
from common.sql_job import SqlJob
from pyspark_jobs.tpch.tables import CUSTOMER, LINEITEM, ORDERS

__all__ = ["RESULT", "Q03", "Q03Sql"]

RESULT = Contract(
    (
        Column("l_orderkey", "bigint", nullable=False),
        Column("revenue", "decimal(38,4)"),
        Column("o_orderdate", "date", nullable=False),
        Column("o_shippriority", "int", nullable=False),
        Column("ds", "string", nullable=False),
    ),
    partition_by=("ds",),
    primary_key=("l_orderkey",),
    sort_by=("revenue desc", "o_orderdate"),
)
INPUTS = {"customer": CUSTOMER, "orders": ORDERS, "lineitem": LINEITEM}
PARAMS = (
    Param("segment", str, "BUILDING", "customer market segment"),
    Param("date", date, date(1995, 3, 15), "orders placed before and lines shipped after this day"),
)


class Q03(Job):
    """Top unshipped orders of a market segment by revenue (TPC-H Q03)."""

    name = "tpch.q03"
    inputs = INPUTS
    outputs = {"q03": Table("tpch_reports.q03", RESULT)}
    params = PARAMS

    def steps(self, p: RunParams) -> dict[str, Step]:
        from pyspark_jobs.tpch.transforms import q03 as t

        return {
            "segment_orders": step(t.segment_orders_before, "orders", "customer", segment=p.segment, before=p.date),
            "q03": step(t.top_unshipped_orders, "lineitem", "segment_orders", after=p.date),
        }


class Q03Sql(SqlJob):
    """TPC-H Q03 as the legacy SQL task."""

    name = "tpch.q03_sql"
    sql_file = "sql/q03.sql"
    inputs = INPUTS
    outputs = {"q03": Table("tpch_legacy.q03", RESULT)}
    params = PARAMS

"""TPC-H Q01, pricing summary report: quantities, prices and discounts of the lines shipped
up to `delta` days before the end of the data, by return flag and line status."""

from __future__ import annotations

from common.contracts import Column, Contract, Table
from common.job import Job, Param, RunParams, Step, step
from common.sql_job import SqlJob
from pyspark_jobs.tpch.tables import LINEITEM

__all__ = ["RESULT", "Q01", "Q01Sql"]

RESULT = Contract(
    (
        Column("l_returnflag", "string", nullable=False),
        Column("l_linestatus", "string", nullable=False),
        Column("sum_qty", "decimal(25,2)"),
        Column("sum_base_price", "decimal(25,2)"),
        Column("sum_disc_price", "decimal(38,4)"),
        Column("sum_charge", "decimal(38,6)"),
        Column("avg_qty", "decimal(19,6)"),
        Column("avg_price", "decimal(19,6)"),
        Column("avg_disc", "decimal(19,6)"),
        Column("count_order", "bigint", nullable=False, description="lines in the group"),
        Column("ds", "string", nullable=False),
    ),
    partition_by=("ds",),
    primary_key=("l_returnflag", "l_linestatus"),
    sort_by=("l_returnflag", "l_linestatus"),
)
INPUTS = {"lineitem": LINEITEM}
PARAMS = (
    Param("delta", int, 90, "days before 1998-12-01 the lines must have shipped by"),
)


class Q01(Job):
    """Pricing summary of shipped lines by return flag and status (TPC-H Q01)."""

    name = "tpch.q01"
    inputs = INPUTS
    outputs = {"q01": Table("tpch_reports.q01", RESULT)}
    params = PARAMS

    def steps(self, p: RunParams) -> dict[str, Step]:
        from pyspark_jobs.tpch.transforms import q01 as t

        return {
            "shipped": step(t.lines_shipped_by, "lineitem", delta=p.delta),
            "q01": step(t.pricing_summary, "shipped"),
        }


class Q01Sql(SqlJob):
    """TPC-H Q01 as the legacy SQL task."""

    name = "tpch.q01_sql"
    sql_file = "sql/q01.sql"
    inputs = INPUTS
    outputs = {"q01": Table("tpch_legacy.q01", RESULT)}
    params = PARAMS

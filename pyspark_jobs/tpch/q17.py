"""TPC-H Q17, small-quantity-order revenue: the yearly revenue lost if small orders (under a
fifth of a part's average quantity) of one brand and container were no longer taken."""

from __future__ import annotations

from common.contracts import Column, Contract, Table
from common.job import Job, Param, RunParams, Step, step
from common.sql_job import SqlJob
from pyspark_jobs.tpch.tables import LINEITEM, PART

__all__ = ["RESULT", "Q17", "Q17Sql"]

RESULT = Contract(
    (
        Column("avg_yearly", "decimal(30,6)", description="over 7 years; null when no line qualifies"),
        Column("ds", "string", nullable=False),
    ),
    partition_by=("ds",),
)
INPUTS = {"lineitem": LINEITEM, "part": PART}
PARAMS = (
    Param("brand", str, "Brand#23", "part brand"),
    Param("container", str, "MED BOX", "part container"),
)


class Q17(Job):
    """Average yearly revenue of small orders of one brand and container (TPC-H Q17)."""

    name = "tpch.q17"
    inputs = INPUTS
    outputs = {"q17": Table("tpch_reports.q17", RESULT)}
    params = PARAMS

    def steps(self, p: RunParams) -> dict[str, Step]:
        from pyspark_jobs.tpch.transforms import q17 as t

        return {
            "part_lines": step(t.lines_of_parts, "lineitem", "part", brand=p.brand, container=p.container),
            "q17": step(t.small_order_yearly_revenue, "part_lines"),
        }


class Q17Sql(SqlJob):
    """TPC-H Q17 as the legacy SQL task."""

    name = "tpch.q17_sql"
    sql_file = "sql/q17.sql"
    inputs = INPUTS
    outputs = {"q17": Table("tpch_legacy.q17", RESULT)}
    params = PARAMS

"""TPC-H Q09, product type profit measure: profit on the parts whose name has a color in
it, by supplier nation and order year."""

from __future__ import annotations

from common.contracts import Column, Contract, Table
from common.job import Job, Param, RunParams, Step, step
from common.sql_job import SqlJob
from pyspark_jobs.tpch.tables import LINEITEM, NATION, ORDERS, PART, PARTSUPP, SUPPLIER

__all__ = ["RESULT", "Q09", "Q09Sql"]

RESULT = Contract(
    (
        Column("nation", "string", nullable=False),
        Column("o_year", "int", nullable=False),
        Column("sum_profit", "decimal(38,4)"),
        Column("ds", "string", nullable=False),
    ),
    partition_by=("ds",),
    primary_key=("nation", "o_year"),
    sort_by=("nation", "o_year desc"),
)
INPUTS = {
    "part": PART,
    "supplier": SUPPLIER,
    "lineitem": LINEITEM,
    "partsupp": PARTSUPP,
    "orders": ORDERS,
    "nation": NATION,
}
PARAMS = (
    Param("color", str, "green", "word in the part name"),
)


class Q09(Job):
    """Profit on parts of a color by supplier nation and year (TPC-H Q09)."""

    name = "tpch.q09"
    inputs = INPUTS
    outputs = {"q09": Table("tpch_reports.q09", RESULT)}
    params = PARAMS

    def steps(self, p: RunParams) -> dict[str, Step]:
        from pyspark_jobs.tpch.transforms import q09 as t

        return {
            "line_profit": step(t.line_profit, "lineitem", "part", "partsupp", color=p.color),
            "q09": step(t.profit_by_nation_year, "line_profit", "supplier", "nation", "orders"),
        }


class Q09Sql(SqlJob):
    """TPC-H Q09 as the legacy SQL task."""

    name = "tpch.q09_sql"
    sql_file = "sql/q09.sql"
    inputs = INPUTS
    outputs = {"q09": Table("tpch_legacy.q09", RESULT)}
    params = PARAMS

"""TPC-H Q21, suppliers who kept orders waiting: a nation's suppliers who were the only late
one on finished multi-supplier orders, the 100 worst first."""

from __future__ import annotations

from common.contracts import Column, Contract, Table
from common.job import Job, Param, RunParams, Step, step
from common.sql_job import SqlJob
from pyspark_jobs.tpch.tables import LINEITEM, NATION, ORDERS, SUPPLIER

__all__ = ["RESULT", "Q21", "Q21Sql"]

RESULT = Contract(
    (
        Column("s_name", "string", nullable=False),
        Column("numwait", "bigint", nullable=False, description="lines on which the supplier alone was late"),
        Column("ds", "string", nullable=False),
    ),
    partition_by=("ds",),
    primary_key=("s_name",),
    sort_by=("numwait desc", "s_name"),
)
INPUTS = {"supplier": SUPPLIER, "lineitem": LINEITEM, "orders": ORDERS, "nation": NATION}
PARAMS = (Param("nation", str, "SAUDI ARABIA", "the suppliers' nation"),)


class Q21(Job):
    """Suppliers who alone delayed multi-supplier orders (TPC-H Q21)."""

    name = "tpch.q21"
    inputs = INPUTS
    outputs = {"q21": Table("tpch_reports.q21", RESULT)}
    params = PARAMS

    def steps(self, p: RunParams) -> dict[str, Step]:
        from pyspark_jobs.tpch.transforms import q21 as t

        return {
            "suppliers_per_order": step(t.suppliers_per_order, "lineitem"),
            "late_alone": step(t.lines_late_alone, "lineitem", "suppliers_per_order"),
            "q21": step(
                t.waiting_by_supplier, "late_alone", "orders", "supplier", "nation", nation_name=p.nation
            ),
        }


class Q21Sql(SqlJob):
    """TPC-H Q21 as the legacy SQL task."""

    name = "tpch.q21_sql"
    sql_file = "sql/q21.sql"
    inputs = INPUTS
    outputs = {"q21": Table("tpch_legacy.q21", RESULT)}
    params = PARAMS

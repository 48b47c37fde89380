"""TPC-H Q07, volume shipping: revenue of the goods shipped between two nations in 1995
and 1996, in each direction and year."""

from __future__ import annotations

from common.contracts import Column, Contract, Table
from common.job import Job, Param, RunParams, Step, step
from common.sql_job import SqlJob
from pyspark_jobs.tpch.tables import CUSTOMER, LINEITEM, NATION, ORDERS, SUPPLIER

__all__ = ["RESULT", "Q07", "Q07Sql"]

RESULT = Contract(
    (
        Column("supp_nation", "string", nullable=False),
        Column("cust_nation", "string", nullable=False),
        Column("l_year", "int", nullable=False),
        Column("revenue", "decimal(38,4)"),
        Column("ds", "string", nullable=False),
    ),
    partition_by=("ds",),
    primary_key=("supp_nation", "cust_nation", "l_year"),
    sort_by=("supp_nation", "cust_nation", "l_year"),
)
INPUTS = {"supplier": SUPPLIER, "lineitem": LINEITEM, "orders": ORDERS, "customer": CUSTOMER, "nation": NATION}
PARAMS = (
    Param("nation1", str, "FRANCE", "one nation"),
    Param("nation2", str, "GERMANY", "the other nation"),
)


class Q07(Job):
    """Revenue shipped between two nations by direction and year (TPC-H Q07)."""

    name = "tpch.q07"
    inputs = INPUTS
    outputs = {"q07": Table("tpch_reports.q07", RESULT)}
    params = PARAMS

    def steps(self, p: RunParams) -> dict[str, Step]:
        from pyspark_jobs.tpch.transforms import q07 as t

        return {
            "supplier_lines": step(
                t.supplier_lines, "lineitem", "supplier", "nation", nations=(p.nation1, p.nation2)
            ),
            "q07": step(
                t.volume_between, "supplier_lines", "orders", "customer", "nation", nation1=p.nation1, nation2=p.nation2
            ),
        }


class Q07Sql(SqlJob):
    """TPC-H Q07 as the legacy SQL task."""

    name = "tpch.q07_sql"
    sql_file = "sql/q07.sql"
    inputs = INPUTS
    outputs = {"q07": Table("tpch_legacy.q07", RESULT)}
    params = PARAMS

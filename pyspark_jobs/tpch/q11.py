"""TPC-H Q11, important stock identification: the parts making up more than a fraction of
the value of one nation's supplier stock."""

from __future__ import annotations

from common.contracts import Column, Contract, Table
from common.job import Job, Param, RunParams, Step, step
from common.sql_job import SqlJob
from pyspark_jobs.tpch.tables import NATION, PARTSUPP, SUPPLIER

__all__ = ["RESULT", "Q11", "Q11Sql"]

RESULT = Contract(
    (
        Column("ps_partkey", "bigint", nullable=False),
        Column("value", "decimal(36,2)", description="supply cost times available quantity"),
        Column("ds", "string", nullable=False),
    ),
    partition_by=("ds",),
    primary_key=("ps_partkey",),
    sort_by=("value desc",),
)
INPUTS = {"partsupp": PARTSUPP, "supplier": SUPPLIER, "nation": NATION}
PARAMS = (
    Param("nation", str, "GERMANY", "nation of the suppliers"),
    Param("fraction", float, 0.0001, "share of the nation's stock value a part must exceed"),
)


class Q11(Job):
    """Parts above a fraction of a nation's stock value (TPC-H Q11)."""

    name = "tpch.q11"
    inputs = INPUTS
    outputs = {"q11": Table("tpch_reports.q11", RESULT)}
    params = PARAMS

    def steps(self, p: RunParams) -> dict[str, Step]:
        from pyspark_jobs.tpch.transforms import q11 as t

        return {
            "stock": step(t.nation_stock, "partsupp", "supplier", "nation", nation_name=p.nation),
            "q11": step(t.important_stock, "stock", fraction=p.fraction),
        }


class Q11Sql(SqlJob):
    """TPC-H Q11 as the legacy SQL task."""

    name = "tpch.q11_sql"
    sql_file = "sql/q11.sql"
    inputs = INPUTS
    outputs = {"q11": Table("tpch_legacy.q11", RESULT)}
    params = PARAMS

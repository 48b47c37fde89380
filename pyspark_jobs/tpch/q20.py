"""TPC-H Q20, potential part promotion: suppliers of one nation holding more than half of a
year's shipped quantity of parts of a color in stock."""

from __future__ import annotations

from datetime import date

from common.contracts import Column, Contract, Table
from common.job import Job, Param, RunParams, Step, step
from common.sql_job import SqlJob
from pyspark_jobs.tpch.tables import LINEITEM, NATION, PART, PARTSUPP, SUPPLIER

__all__ = ["RESULT", "Q20", "Q20Sql"]

RESULT = Contract(
    (
        Column("s_name", "string", nullable=False),
        Column("s_address", "string", nullable=False),
        Column("ds", "string", nullable=False),
    ),
    partition_by=("ds",),
    primary_key=("s_name",),
    sort_by=("s_name",),
)
INPUTS = {"supplier": SUPPLIER, "nation": NATION, "partsupp": PARTSUPP, "part": PART, "lineitem": LINEITEM}
PARAMS = (
    Param("color", str, "forest", "the part names' first word"),
    Param("date", date, date(1994, 1, 1), "first day of the year of shipment"),
    Param("nation", str, "CANADA", "the suppliers' nation"),
)


class Q20(Job):
    """Suppliers with excess stock of a color's parts (TPC-H Q20)."""

    name = "tpch.q20"
    inputs = INPUTS
    outputs = {"q20": Table("tpch_reports.q20", RESULT)}
    params = PARAMS

    def steps(self, p: RunParams) -> dict[str, Step]:
        from pyspark_jobs.tpch.transforms import q20 as t

        return {
            "parts": step(t.parts_named, "part", color=p.color),
            "shipped": step(t.shipped_quantities, "lineitem", "parts", start=p.date),
            "overstocked": step(t.overstocked_offers, "partsupp", "parts", "shipped"),
            "q20": step(t.overstocked_suppliers, "supplier", "nation", "overstocked", nation_name=p.nation),
        }


class Q20Sql(SqlJob):
    """TPC-H Q20 as the legacy SQL task."""

    name = "tpch.q20_sql"
    sql_file = "sql/q20.sql"
    inputs = INPUTS
    outputs = {"q20": Table("tpch_legacy.q20", RESULT)}
    params = PARAMS

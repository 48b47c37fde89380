"""TPC-H Q19, discounted revenue: revenue of air shipments delivered in person for three
brackets of brand, container, size and quantity."""

from __future__ import annotations

from common.contracts import Column, Contract, Table
from common.job import Job, Param, RunParams, Step, step
from common.sql_job import SqlJob
from pyspark_jobs.tpch.tables import LINEITEM, PART

__all__ = ["RESULT", "Q19", "Q19Sql"]

RESULT = Contract(
    (
        Column("revenue", "decimal(38,4)", description="null when no line qualifies"),
        Column("ds", "string", nullable=False),
    ),
    partition_by=("ds",),
)
INPUTS = {"lineitem": LINEITEM, "part": PART}
PARAMS = (
    Param("quantity1", int, 1, "smallest quantity of the small-container bracket"),
    Param("quantity2", int, 10, "smallest quantity of the medium-container bracket"),
    Param("quantity3", int, 20, "smallest quantity of the large-container bracket"),
    Param("brand1", str, "Brand#12", "brand of the small-container bracket"),
    Param("brand2", str, "Brand#23", "brand of the medium-container bracket"),
    Param("brand3", str, "Brand#34", "brand of the large-container bracket"),
)


class Q19(Job):
    """Revenue of three brackets of air, in-person deliveries (TPC-H Q19)."""

    name = "tpch.q19"
    inputs = INPUTS
    outputs = {"q19": Table("tpch_reports.q19", RESULT)}
    params = PARAMS

    def steps(self, p: RunParams) -> dict[str, Step]:
        from pyspark_jobs.tpch.transforms import q19 as t

        return {
            "air_lines": step(t.air_lines_delivered_in_person, "lineitem"),
            "q19": step(
                t.bracket_revenue,
                "air_lines",
                "part",
                brands=(p.brand1, p.brand2, p.brand3),
                quantities=(p.quantity1, p.quantity2, p.quantity3),
            ),
        }


class Q19Sql(SqlJob):
    """TPC-H Q19 as the legacy SQL task."""

    name = "tpch.q19_sql"
    sql_file = "sql/q19.sql"
    inputs = INPUTS
    outputs = {"q19": Table("tpch_legacy.q19", RESULT)}
    params = PARAMS

"""TPC-H Q16, parts/supplier relationship: how many suppliers without customer complaints can
supply parts of given sizes, other than one brand and one type."""

from __future__ import annotations

from common.contracts import Column, Contract, Table
from common.job import Job, Param, RunParams, Step, step
from common.sql_job import SqlJob
from pyspark_jobs.tpch.tables import PART, PARTSUPP, SUPPLIER

__all__ = ["RESULT", "Q16", "Q16Sql"]

RESULT = Contract(
    (
        Column("p_brand", "string", nullable=False),
        Column("p_type", "string", nullable=False),
        Column("p_size", "int", nullable=False),
        Column("supplier_cnt", "bigint", nullable=False, description="distinct suppliers"),
        Column("ds", "string", nullable=False),
    ),
    partition_by=("ds",),
    primary_key=("p_brand", "p_type", "p_size"),
    sort_by=("supplier_cnt desc", "p_brand", "p_type", "p_size"),
)
INPUTS = {"partsupp": PARTSUPP, "part": PART, "supplier": SUPPLIER}
SIZES = (49, 14, 23, 45, 19, 3, 36, 9)
PARAMS = (
    Param("brand", str, "Brand#45", "the brand to leave out"),
    Param("type", str, "MEDIUM POLISHED", "the type prefix to leave out"),
    *(Param(f"size{i}", int, size, f"part size {i} of 8") for i, size in enumerate(SIZES, start=1)),
)


class Q16(Job):
    """Suppliers able to supply parts, by brand, type and size (TPC-H Q16)."""

    name = "tpch.q16"
    inputs = INPUTS
    outputs = {"q16": Table("tpch_reports.q16", RESULT)}
    params = PARAMS

    def steps(self, p: RunParams) -> dict[str, Step]:
        from pyspark_jobs.tpch.transforms import q16 as t

        sizes = tuple(getattr(p, f"size{i}") for i in range(1, len(SIZES) + 1))
        return {
            "parts": step(t.wanted_parts, "part", brand=p.brand, type_prefix=p.type, sizes=sizes),
            "q16": step(t.supplier_counts, "partsupp", "parts", "supplier"),
        }


class Q16Sql(SqlJob):
    """TPC-H Q16 as the legacy SQL task."""

    name = "tpch.q16_sql"
    sql_file = "sql/q16.sql"
    inputs = INPUTS
    outputs = {"q16": Table("tpch_legacy.q16", RESULT)}
    params = PARAMS

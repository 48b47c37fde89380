"""TPC-H Q02, minimum cost supplier: for each part of a size and type, the suppliers of a
region that offer it at the region's lowest supply cost, richest suppliers first."""

from __future__ import annotations

from common.contracts import Column, Contract, Table
from common.job import Job, Param, RunParams, Step, step
from common.sql_job import SqlJob
from pyspark_jobs.tpch.tables import NATION, PART, PARTSUPP, REGION, SUPPLIER

__all__ = ["RESULT", "Q02", "Q02Sql"]

RESULT = Contract(
    (
        Column("s_acctbal", "decimal(15,2)", nullable=False),
        Column("s_name", "string", nullable=False),
        Column("n_name", "string", nullable=False),
        Column("p_partkey", "bigint", nullable=False),
        Column("p_mfgr", "string", nullable=False),
        Column("s_address", "string", nullable=False),
        Column("s_phone", "string", nullable=False),
        Column("s_comment", "string", nullable=False),
        Column("ds", "string", nullable=False),
    ),
    partition_by=("ds",),
    primary_key=("p_partkey", "s_name"),
    sort_by=("s_acctbal desc", "n_name", "s_name", "p_partkey"),
)
INPUTS = {"part": PART, "supplier": SUPPLIER, "partsupp": PARTSUPP, "nation": NATION, "region": REGION}
PARAMS = (
    Param("size", int, 15, "part size"),
    Param("type", str, "BRASS", "the part type ends with this word"),
    Param("region", str, "EUROPE", "region of the suppliers"),
)


class Q02(Job):
    """Cheapest suppliers of a region for parts of a size and type (TPC-H Q02)."""

    name = "tpch.q02"
    inputs = INPUTS
    outputs = {"q02": Table("tpch_reports.q02", RESULT)}
    params = PARAMS

    def steps(self, p: RunParams) -> dict[str, Step]:
        from pyspark_jobs.tpch.transforms import q02 as t

        return {
            "parts": step(t.parts_of, "part", size=p.size, type_suffix=p.type),
            "suppliers": step(t.suppliers_of_region, "supplier", "nation", "region", region_name=p.region),
            "q02": step(t.cheapest_suppliers, "parts", "partsupp", "suppliers"),
        }


class Q02Sql(SqlJob):
    """TPC-H Q02 as the legacy SQL task."""

    name = "tpch.q02_sql"
    sql_file = "sql/q02.sql"
    inputs = INPUTS
    outputs = {"q02": Table("tpch_legacy.q02", RESULT)}
    params = PARAMS

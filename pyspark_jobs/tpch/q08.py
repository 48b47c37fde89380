"""TPC-H Q08, national market share: the share of a nation's suppliers in a region's
revenue for one part type, in 1995 and 1996."""

from __future__ import annotations

from common.contracts import Column, Contract, Table
from common.job import Job, Param, RunParams, Step, step
from common.sql_job import SqlJob
from pyspark_jobs.tpch.tables import (
    CUSTOMER,
    LINEITEM,
    NATION,
    ORDERS,
    PART,
    REGION,
    SUPPLIER,
)

__all__ = ["RESULT", "Q08", "Q08Sql"]

RESULT = Contract(
    (
        Column("o_year", "int", nullable=False),
        Column("mkt_share", "decimal(38,6)"),
        Column("ds", "string", nullable=False),
    ),
    partition_by=("ds",),
    primary_key=("o_year",),
    sort_by=("o_year",),
)
INPUTS = {
    "part": PART,
    "supplier": SUPPLIER,
    "lineitem": LINEITEM,
    "orders": ORDERS,
    "customer": CUSTOMER,
    "nation": NATION,
    "region": REGION,
}
PARAMS = (
    Param("nation", str, "BRAZIL", "nation of the suppliers whose share is measured"),
    Param("region", str, "AMERICA", "region of the customers"),
    Param("type", str, "ECONOMY ANODIZED STEEL", "part type"),
)


class Q08(Job):
    """A nation's market share in a region for one part type (TPC-H Q08)."""

    name = "tpch.q08"
    inputs = INPUTS
    outputs = {"q08": Table("tpch_reports.q08", RESULT)}
    params = PARAMS

    def steps(self, p: RunParams) -> dict[str, Step]:
        from pyspark_jobs.tpch.transforms import q08 as t

        return {
            "region_orders": step(t.region_orders, "orders", "customer", "nation", "region", region_name=p.region),
            "q08": step(
                t.market_share,
                "lineitem",
                "part",
                "region_orders",
                "supplier",
                "nation",
                supplier_nation=p.nation,
                part_type=p.type,
            ),
        }


class Q08Sql(SqlJob):
    """TPC-H Q08 as the legacy SQL task."""

    name = "tpch.q08_sql"
    sql_file = "sql/q08.sql"
    inputs = INPUTS
    outputs = {"q08": Table("tpch_legacy.q08", RESULT)}
    params = PARAMS

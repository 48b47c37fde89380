"""TPC-H Q05, local supplier volume: revenue of a year from lines whose customer and
supplier are in the same nation, for the nations of a region."""

from __future__ import annotations

from datetime import date

from common.contracts import Column, Contract, Table
from common.job import Job, Param, RunParams, Step, step
from common.sql_job import SqlJob
from pyspark_jobs.tpch.tables import (
    CUSTOMER,
    LINEITEM,
    NATION,
    ORDERS,
    REGION,
    SUPPLIER,
)

__all__ = ["RESULT", "Q05", "Q05Sql"]

RESULT = Contract(
    (
        Column("n_name", "string", nullable=False),
        Column("revenue", "decimal(38,4)"),
        Column("ds", "string", nullable=False),
    ),
    partition_by=("ds",),
    primary_key=("n_name",),
    sort_by=("revenue desc",),
)
INPUTS = {
    "customer": CUSTOMER,
    "orders": ORDERS,
    "lineitem": LINEITEM,
    "supplier": SUPPLIER,
    "nation": NATION,
    "region": REGION,
}
PARAMS = (
    Param("region", str, "ASIA", "region of customers and suppliers"),
    Param("date", date, date(1994, 1, 1), "first day of the year of the order date"),
)


class Q05(Job):
    """Revenue of same-nation customer and supplier lines in a region (TPC-H Q05)."""

    name = "tpch.q05"
    inputs = INPUTS
    outputs = {"q05": Table("tpch_reports.q05", RESULT)}
    params = PARAMS

    def steps(self, p: RunParams) -> dict[str, Step]:
        from pyspark_jobs.tpch.transforms import q05 as t

        return {
            "suppliers": step(t.suppliers_of_region, "supplier", "nation", "region", region_name=p.region),
            "customer_orders": step(t.orders_in_year, "orders", "customer", start=p.date),
            "q05": step(t.local_supplier_revenue, "lineitem", "customer_orders", "suppliers"),
        }


class Q05Sql(SqlJob):
    """TPC-H Q05 as the legacy SQL task."""

    name = "tpch.q05_sql"
    sql_file = "sql/q05.sql"
    inputs = INPUTS
    outputs = {"q05": Table("tpch_legacy.q05", RESULT)}
    params = PARAMS

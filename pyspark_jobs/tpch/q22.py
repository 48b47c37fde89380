"""TPC-H Q22, global sales opportunity: customers of some country codes with an above-average
positive balance who have never ordered, by country code."""

from __future__ import annotations

from common.contracts import Column, Contract, Table
from common.job import Job, Param, RunParams, Step, step
from common.sql_job import SqlJob
from pyspark_jobs.tpch.tables import CUSTOMER, ORDERS

__all__ = ["RESULT", "Q22", "Q22Sql"]

RESULT = Contract(
    (
        Column("cntrycode", "string", nullable=False, description="first two digits of the phone number"),
        Column("numcust", "bigint", nullable=False),
        Column("totacctbal", "decimal(25,2)"),
        Column("ds", "string", nullable=False),
    ),
    partition_by=("ds",),
    primary_key=("cntrycode",),
    sort_by=("cntrycode",),
)
INPUTS = {"customer": CUSTOMER, "orders": ORDERS}
CODES = ("13", "31", "23", "29", "30", "18", "17")
PARAMS = tuple(
    Param(f"code{i}", str, code, f"country code {i} of {len(CODES)}") for i, code in enumerate(CODES, start=1)
)


class Q22(Job):
    """Idle customers with above-average balances, by country code (TPC-H Q22)."""

    name = "tpch.q22"
    inputs = INPUTS
    outputs = {"q22": Table("tpch_reports.q22", RESULT)}
    params = PARAMS

    def steps(self, p: RunParams) -> dict[str, Step]:
        from pyspark_jobs.tpch.transforms import q22 as t

        codes = tuple(getattr(p, f"code{i}") for i in range(1, len(CODES) + 1))
        return {
            "candidates": step(t.customers_in_countries, "customer", codes=codes),
            "q22": step(t.idle_customers_by_country, "candidates", "orders"),
        }


class Q22Sql(SqlJob):
    """TPC-H Q22 as the legacy SQL task."""

    name = "tpch.q22_sql"
    sql_file = "sql/q22.sql"
    inputs = INPUTS
    outputs = {"q22": Table("tpch_legacy.q22", RESULT)}
    params = PARAMS

"""The demonstration job's three reports as the SparkSqlOperator tasks they replace: one SQL
application per report, each recomputing the shared join. Kept for the parity diff and as the
baseline of the shared-intermediate benchmark."""

from __future__ import annotations

from common.contracts import Table
from common.job import Param
from common.sql_job import SqlJob
from pyspark_jobs.demo.daily_revenue import REVENUE_BY_SEGMENT, REVENUE_BY_SHIPMODE, TOP_CUSTOMERS
from pyspark_jobs.tpch.tables import CUSTOMER, LINEITEM, NATION, ORDERS

__all__ = ["RevenueBySegmentSql", "TopCustomersSql", "RevenueByShipmodeSql"]

_INPUTS = {"lineitem": LINEITEM, "orders": ORDERS, "customer": CUSTOMER, "nation": NATION}


def _legacy(table: Table) -> dict[str, Table]:
    return {table.table: Table(f"demo_legacy.{table.table}", table.contract)}


class RevenueBySegmentSql(SqlJob):
    name = "demo.revenue_by_segment_sql"
    sql_file = "sql/revenue_by_segment.sql"
    inputs = _INPUTS
    outputs = _legacy(REVENUE_BY_SEGMENT)


class TopCustomersSql(SqlJob):
    name = "demo.top_customers_sql"
    sql_file = "sql/top_customers.sql"
    inputs = _INPUTS
    outputs = _legacy(TOP_CUSTOMERS)
    params = (Param("top_n", int, 10),)


class RevenueByShipmodeSql(SqlJob):
    name = "demo.revenue_by_shipmode_sql"
    sql_file = "sql/revenue_by_shipmode.sql"
    inputs = _INPUTS
    outputs = _legacy(REVENUE_BY_SHIPMODE)

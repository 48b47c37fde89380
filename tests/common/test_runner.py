"""A whole run of the demonstration job on TPC-H SF0.01, checked against a plain-Python
computation over the raw rows, plus what the run says about caching."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest
from pyspark.sql import functions as F

from common.runner import RunConfig, run_job
from tests.helpers import mysql_connection

pytestmark = pytest.mark.services
DS = "1995-03-15"


@pytest.fixture(scope="module")
def run(spark):
    return run_job(RunConfig(job="demo.daily_revenue", ds=DS), spark=spark)


@pytest.fixture(scope="module")
def expected(spark):
    """The three reports computed by hand from the source rows."""
    lines = spark.table("tpch.lineitem").filter(F.col("l_shipdate") == date.fromisoformat(DS)).collect()
    keys = {r.l_orderkey for r in lines}
    orders = {r.o_orderkey: r for r in spark.table("tpch.orders").collect() if r.o_orderkey in keys}
    conn = mysql_connection()
    with conn.cursor() as cur:
        cur.execute("SELECT c_custkey, c_name, c_mktsegment, n_name FROM customer JOIN nation ON c_nationkey = n_nationkey")
        customers = {row[0]: row[1:] for row in cur.fetchall()}
    conn.close()
    by_segment, by_mode, by_customer = defaultdict(lambda: [set(), Decimal(0)]), defaultdict(lambda: [0, Decimal(0)]), defaultdict(Decimal)
    for line in lines:
        order = orders[line.l_orderkey]
        name, segment, nation = customers[order.o_custkey]
        revenue = line.l_extendedprice * (1 - line.l_discount)
        by_segment[(nation, segment)][0].add(order.o_orderkey)
        by_segment[(nation, segment)][1] += revenue
        by_mode[(line.l_shipmode, order.o_orderpriority)][0] += 1
        by_mode[(line.l_shipmode, order.o_orderpriority)][1] += revenue
        by_customer[(order.o_custkey, name, nation)] += revenue
    top = sorted(by_customer.items(), key=lambda kv: (-kv[1], kv[0][0]))[:10]
    return {
        "segment": sorted((n, s, len(o), r) for (n, s), (o, r) in by_segment.items()),
        "mode": sorted((m, p, c, r) for (m, p), (c, r) in by_mode.items()),
        "top": [(i + 1, k[0], k[1], k[2], r) for i, (k, r) in enumerate(top)],
    }


def _rows(spark, table: str, order: list[str]) -> list[tuple]:
    df = spark.table(table).filter(F.col("ds") == DS).drop("ds")
    return [tuple(r) for r in df.orderBy(*order).collect()]


def test_outputs_match_a_hand_computation(spark, run, expected):
    assert len(expected["top"]) == 10 and expected["segment"], "the day has shipments at SF0.01"
    assert _rows(spark, "demo.revenue_by_segment", ["n_name", "c_mktsegment"]) == expected["segment"]
    assert _rows(spark, "demo.revenue_by_shipmode", ["l_shipmode", "o_orderpriority"]) == expected["mode"]
    assert _rows(spark, "demo.top_customers", ["rank"]) == expected["top"]


def test_the_shared_join_is_cached_once_and_released(spark, run):
    assert [c[0] for c in run.cached] == ["enriched"]
    name, level, rows, size = run.cached[0]
    assert level == "MEMORY_AND_DISK" and rows > 0 and size > 0
    assert spark.sparkContext._jsc.sc().getRDDStorageInfo() == [] or all(
        i.numCachedPartitions() == 0 for i in spark.sparkContext._jsc.sc().getRDDStorageInfo()
    )
    assert [o.table for o in run.outputs] == ["demo.revenue_by_segment", "demo.top_customers", "demo.revenue_by_shipmode"]
    assert dict((a, n) for a, _, n in run.inputs)["nation"] == 25
    text = run.render()
    assert "cached enriched MEMORY_AND_DISK" in text and "input  customer" in text

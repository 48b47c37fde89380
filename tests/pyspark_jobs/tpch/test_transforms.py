"""The transforms several TPC-H queries share, on a few rows worked out by hand."""

from __future__ import annotations

from pyspark.sql import functions as F

from pyspark_jobs.tpch import transforms as t
from tests.helpers import D, assert_frame_equal, day, frame

NATION = "n_nationkey int, n_name string, n_regionkey int"
NATIONS = [(6, "FRANCE", 3), (7, "GERMANY", 3), (8, "INDIA", 2)]
REGION = "r_regionkey int, r_name string"
REGIONS = [(2, "ASIA"), (3, "EUROPE"), (4, "MIDDLE EAST")]
SUPPLIER = "s_suppkey int, s_name string, s_nationkey int"
SUPPLIERS = [(1, "S1", 6), (2, "S2", 8), (3, "S3", 7)]


def test_revenue_is_price_less_discount(spark):
    lines = frame(
        spark,
        "l_orderkey bigint, l_extendedprice decimal(15,2), l_discount decimal(15,2)",
        [(1, D("100.00"), D("0.10")), (2, D("33.33"), D("0.07")), (3, D("10.00"), D("0.00"))],
    )
    # 100 * 0.90 = 90; 33.33 * 0.93 = 30.9969; 10 * 1 = 10
    assert_frame_equal(
        lines.select("l_orderkey", t.revenue().alias("revenue")),
        [(1, D("90.0000")), (2, D("30.9969")), (3, D("10.0000"))],
    )


def test_with_nation_adds_name_and_region_and_drops_unknown_keys(spark):
    customers = frame(spark, "c_custkey int, c_nationkey int", [(10, 6), (11, 8), (12, 99)])
    result = t.with_nation(customers, frame(spark, NATION, NATIONS), key="c_nationkey")
    assert_frame_equal(
        result.select("c_custkey", "n_name", "n_regionkey"), [(10, "FRANCE", 3), (11, "INDIA", 2)]
    )


def test_nations_in_region(spark):
    result = t.nations_in_region(frame(spark, NATION, NATIONS), frame(spark, REGION, REGIONS), region_name="EUROPE")
    assert_frame_equal(result, [(6, "FRANCE"), (7, "GERMANY")])


def test_in_period_is_half_open(spark):
    orders = frame(
        spark,
        "o_orderkey bigint, o_orderdate date",
        [(1, day("1993-06-30")), (2, day("1993-07-01")), (3, day("1993-09-30")), (4, day("1993-10-01"))],
    )
    # three months from 1993-07-01: July to September, the first of October excluded
    result = orders.filter(t.in_period("o_orderdate", day("1993-07-01"), months=3)).select("o_orderkey")
    assert_frame_equal(result, [(2,), (3,)])


def test_suppliers_in_nation_keeps_supplier_columns_only(spark):
    suppliers, nations = frame(spark, SUPPLIER, SUPPLIERS), frame(spark, NATION, NATIONS)
    result = t.suppliers_in_nation(suppliers, nations, nation_name="GERMANY")
    assert result.columns == ["s_suppkey", "s_name", "s_nationkey"]
    assert_frame_equal(result, [(3, "S3", 7)])


def test_with_supplier_nation_names_the_supplier_nation_of_lake_keys(spark):
    # lake keys are bigint, MySQL keys int: the join must still match them
    lines = frame(spark, "l_orderkey bigint, l_suppkey bigint", [(100, 1), (101, 2), (102, 4)])
    result = t.with_supplier_nation(
        lines, frame(spark, SUPPLIER, SUPPLIERS), frame(spark, NATION, NATIONS), key="l_suppkey", name="supp_nation"
    )
    assert result.columns == ["l_orderkey", "l_suppkey", "supp_nation"]
    # supplier 4 does not exist: an inner join drops its line
    assert_frame_equal(result, [(100, 1, "FRANCE"), (101, 2, "INDIA")])


def test_with_supplier_nation_keeps_only_the_nations_given(spark):
    lines = frame(spark, "l_orderkey bigint, l_suppkey bigint", [(100, 1), (101, 2), (102, 3)])
    two_nations = frame(spark, NATION, NATIONS).filter(F.col("n_name").isin("FRANCE", "GERMANY"))
    result = t.with_supplier_nation(lines, frame(spark, SUPPLIER, SUPPLIERS), two_nations, key="l_suppkey", name="n")
    assert_frame_equal(result.select("l_orderkey", "n"), [(100, "FRANCE"), (102, "GERMANY")])

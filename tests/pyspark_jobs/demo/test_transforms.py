"""The demonstration job's transforms on a few rows whose answers are worked out by hand: each
computes every day of the run's days at once, its rows carrying their ds."""

from __future__ import annotations

from pyspark_jobs.demo import transforms as t
from tests.helpers import D, assert_frame_equal, day, frame

LINES = "l_orderkey bigint, l_shipmode string, l_shipdate date, l_extendedprice decimal(15,2), l_discount decimal(15,2)"
ENRICHED = (
    "ds string, o_orderkey bigint, o_orderpriority string, l_shipmode string, c_custkey int, "
    "c_name string, c_mktsegment string, n_name string, revenue decimal(32,4)"
)
DS, NEXT = "1995-03-15", "1995-03-16"


def test_lines_shipped_on_keeps_the_days_and_prices_the_discount(spark):
    lineitem = frame(
        spark,
        LINES,
        [
            (1, "AIR", day("1995-03-15"), D("100.00"), D("0.10")),
            (1, "MAIL", day("1995-03-15"), D("200.00"), D("0.00")),
            (2, "AIR", day("1995-03-16"), D("50.00"), D("0.00")),
            (3, "RAIL", day("1995-03-17"), D("70.00"), D("0.00")),
        ],
    )
    assert_frame_equal(
        t.lines_shipped_on(lineitem, days=(DS,)),
        [(1, "AIR", DS, D("90.00")), (1, "MAIL", DS, D("200.00"))],
    )
    # two days at once: each line keeps its own day as ds; the 17th is not one of them
    assert_frame_equal(
        t.lines_shipped_on(lineitem, days=(DS, NEXT)),
        [(1, "AIR", DS, D("90.00")), (1, "MAIL", DS, D("200.00")), (2, "AIR", NEXT, D("50.00"))],
    )


def test_enrich_lines_joins_orders_customers_and_nations(spark):
    lines = frame(
        spark,
        "l_orderkey bigint, l_shipmode string, ds string, revenue decimal(32,4)",
        [(7, "AIR", DS, D("90")), (8, "RAIL", DS, D("10"))],
    )
    orders = frame(spark, "o_orderkey bigint, o_custkey bigint, o_orderpriority string", [(7, 3, "1-URGENT")])
    customer = frame(
        spark, "c_custkey int, c_name string, c_mktsegment string, c_nationkey int", [(3, "Cust#3", "BUILDING", 6)]
    )
    nation = frame(spark, "n_nationkey int, n_name string, n_regionkey int", [(6, "FRANCE", 3), (7, "GERMANY", 3)])
    result = t.enrich_lines(lines, orders, customer, nation)
    # order 8 has no order row: an inner join drops it
    assert_frame_equal(
        result,
        [(DS, 7, "1-URGENT", "AIR", 3, "Cust#3", "BUILDING", "FRANCE", D("90"))],
    )


def _enriched(spark, *more: tuple):
    return frame(
        spark,
        ENRICHED,
        [
            (DS, 1, "1-URGENT", "AIR", 10, "C10", "BUILDING", "FRANCE", D("90.0000")),
            (DS, 1, "1-URGENT", "MAIL", 10, "C10", "BUILDING", "FRANCE", D("200.0000")),
            (DS, 2, "2-HIGH", "AIR", 11, "C11", "BUILDING", "FRANCE", D("50.0000")),
            (DS, 3, "2-HIGH", "AIR", 12, "C12", "MACHINERY", "PERU", D("290.0000")),
            *more,
        ],
    )


# A second day: customer 11's order 4, worth more than anything on the first day.
NEXT_DAY = (NEXT, 4, "2-HIGH", "AIR", 11, "C11", "BUILDING", "FRANCE", D("500.0000"))


def test_revenue_by_segment_counts_orders_once(spark):
    assert_frame_equal(
        t.revenue_by_segment(_enriched(spark)),
        [("FRANCE", "BUILDING", 2, D("340.0000"), DS), ("PERU", "MACHINERY", 1, D("290.0000"), DS)],
    )


def test_revenue_by_segment_per_day(spark):
    assert_frame_equal(
        t.revenue_by_segment(_enriched(spark, NEXT_DAY)),
        [("FRANCE", "BUILDING", 2, D("340.0000"), DS), ("PERU", "MACHINERY", 1, D("290.0000"), DS),
         ("FRANCE", "BUILDING", 1, D("500.0000"), NEXT)],
    )


def test_top_customers_ranks_ties_by_key(spark):
    # C10 and C12 both have 290.0000: the lower key ranks first
    assert_frame_equal(
        t.top_customers(_enriched(spark), top_n=2),
        [(1, 10, "C10", "FRANCE", D("290.0000"), DS), (2, 12, "C12", "PERU", D("290.0000"), DS)],
    )


def test_top_customers_are_ranked_within_each_day(spark):
    # C11's 500.0000 on the second day does not push the first day's customers down
    assert_frame_equal(
        t.top_customers(_enriched(spark, NEXT_DAY), top_n=2),
        [(1, 10, "C10", "FRANCE", D("290.0000"), DS), (2, 12, "C12", "PERU", D("290.0000"), DS),
         (1, 11, "C11", "FRANCE", D("500.0000"), NEXT)],
    )


def test_revenue_by_shipmode(spark):
    assert_frame_equal(
        t.revenue_by_shipmode(_enriched(spark, NEXT_DAY)),
        [
            ("AIR", "1-URGENT", 1, D("90.0000"), DS),
            ("MAIL", "1-URGENT", 1, D("200.0000"), DS),
            ("AIR", "2-HIGH", 2, D("340.0000"), DS),
            ("AIR", "2-HIGH", 1, D("500.0000"), NEXT),
        ],
    )


def test_iso_codes_of_tpch_nations():
    # ISO 3166-1 alpha-2, as published
    names = {"FRANCE": "FR", "UNITED STATES": "US", "RUSSIA": "RU", "IRAN": "IR", "VIETNAM": "VN", "SAUDI ARABIA": "SA"}
    assert {n: t.iso_alpha2(n) for n in names} == names
    assert t.iso_alpha2("ATLANTIS") is None

"""TPC-H q12–q22 transforms on a few rows whose answers are worked out by hand."""

from __future__ import annotations

from pyspark_jobs.tpch.transforms import q12, q13, q15, q17, q19, q21, q22
from tests.helpers import D, assert_frame_equal, day, frame

SUPPLIER = "s_suppkey int, s_name string, s_address string, s_phone string"


def test_q12_late_lines_keeps_late_receipts_of_the_modes_in_the_year(spark):
    lineitem = frame(
        spark,
        "l_orderkey bigint, l_shipmode string, l_shipdate date, l_commitdate date, l_receiptdate date",
        [
            (1, "MAIL", day("1994-03-01"), day("1994-03-05"), day("1994-03-10")),
            (2, "AIR", day("1994-03-01"), day("1994-03-05"), day("1994-03-10")),  # another mode
            (3, "SHIP", day("1994-12-20"), day("1994-12-25"), day("1995-01-01")),  # received next year
            (4, "SHIP", day("1994-05-02"), day("1994-05-01"), day("1994-05-03")),  # shipped after commit
        ],
    )
    result = q12.late_lines(lineitem, shipmodes=("MAIL", "SHIP"), start=day("1994-01-01"))
    assert_frame_equal(result, [(1, "MAIL")])


def test_q12_counts_lines_by_priority_class(spark):
    lines = frame(spark, "l_orderkey bigint, l_shipmode string", [(1, "MAIL"), (2, "MAIL"), (3, "SHIP")])
    orders = frame(
        spark, "o_orderkey bigint, o_orderpriority string", [(1, "1-URGENT"), (2, "3-MEDIUM"), (3, "2-HIGH")]
    )
    result = q12.line_counts_by_priority(lines, orders)
    assert_frame_equal(result, [("MAIL", 1, 1), ("SHIP", 1, 0)])


def test_q13_leaves_out_comments_with_both_words_in_order(spark):
    orders = frame(
        spark,
        "o_orderkey bigint, o_custkey bigint, o_comment string",
        [(10, 1, "quick special deposit requests"), (11, 1, "requests are special"), (12, 2, "plain")],
    )
    result = q13.orders_per_customer(orders, word1="special", word2="requests")
    assert_frame_equal(result, [(1, 1), (2, 1)])


def test_q13_customers_without_orders_count_as_zero(spark):
    customer = frame(spark, "c_custkey int", [(1,), (2,), (3,)])
    counts = frame(spark, "o_custkey bigint, orders bigint", [(1, 2), (2, 2)])
    result = q13.customer_distribution(customer, counts)
    assert_frame_equal(result, [(2, 2), (0, 1)])


def test_q15_keeps_every_supplier_tied_for_the_top(spark):
    revenue = frame(
        spark,
        "l_suppkey bigint, total_revenue decimal(38,4)",
        [(1, D("100.0000")), (2, D("300.0000")), (3, D("300.0000"))],
    )
    supplier = frame(spark, SUPPLIER, [(1, "S1", "a1", "p1"), (2, "S2", "a2", "p2"), (3, "S3", "a3", "p3")])
    result = q15.top_suppliers(revenue, supplier)
    assert_frame_equal(result, [(2, "S2", "a2", "p2", D("300.0000")), (3, "S3", "a3", "p3", D("300.0000"))])


def test_q17_prices_lines_under_a_fifth_of_their_parts_average(spark):
    # part 1 averages 10, so only its quantity-1 line (70.00) is small; part 2 averages 5, none is
    lines = frame(
        spark,
        "l_partkey bigint, l_quantity decimal(15,2), l_extendedprice decimal(15,2)",
        [(1, D("1"), D("70.00")), (1, D("10"), D("500.00")), (1, D("19"), D("900.00")), (2, D("5"), D("35.00"))],
    )
    result = q17.small_order_yearly_revenue(lines)
    assert_frame_equal(result, [(D("10.000000"),)])  # 70.00 / 7 years


def test_q17_is_null_when_no_line_is_small(spark):
    lines = frame(
        spark,
        "l_partkey bigint, l_quantity decimal(15,2), l_extendedprice decimal(15,2)",
        [(2, D("5"), D("35.00"))],
    )
    assert q17.small_order_yearly_revenue(lines).first()["avg_yearly"] is None


def test_q19_sums_the_lines_of_any_bracket(spark):
    lines = frame(
        spark,
        "l_partkey bigint, l_quantity decimal(15,2), l_extendedprice decimal(15,2), l_discount decimal(15,2)",
        [
            (1, D("11"), D("125.00"), D("0.20")),  # small bracket, quantity 1..11: revenue 100
            (3, D("20"), D("51.00"), D("0.50")),  # large bracket, quantity 20..30: revenue 25.50
            (3, D("31"), D("50.00"), D("0.00")),  # quantity above the large bracket
            (2, D("15"), D("100.00"), D("0.30")),  # part 2 is too big for the medium bracket
        ],
    )
    part = frame(
        spark,
        "p_partkey bigint, p_brand string, p_container string, p_size int",
        [(1, "Brand#12", "SM BOX", 5), (2, "Brand#23", "MED BOX", 11), (3, "Brand#34", "LG PKG", 15)],
    )
    result = q19.bracket_revenue(
        lines, part, brands=("Brand#12", "Brand#23", "Brand#34"), quantities=(1, 10, 20)
    )
    assert_frame_equal(result, [(D("125.5000"),)])


def _lineitem_for_q21(spark):
    late, on_time = (day("1995-01-01"), day("1995-01-05")), (day("1995-01-05"), day("1995-01-01"))
    return frame(
        spark,
        "l_orderkey bigint, l_suppkey bigint, l_commitdate date, l_receiptdate date",
        [
            (1, 10, *late),
            (1, 20, *on_time),
            (2, 10, *late),
            (2, 20, *late),  # two late suppliers: nobody is late alone
            (3, 10, *late),
            (3, 10, *late),  # a single supplier: nobody else was kept waiting
        ],
    )


def test_q21_tells_orders_with_several_suppliers_and_one_late_supplier(spark):
    result = q21.suppliers_per_order(_lineitem_for_q21(spark))
    assert_frame_equal(result, [(1, True, True), (2, True, False), (3, False, True)])


def test_q21_a_line_is_late_alone_among_several_suppliers(spark):
    lineitem = _lineitem_for_q21(spark)
    result = q21.lines_late_alone(lineitem, q21.suppliers_per_order(lineitem))
    assert_frame_equal(result, [(1, 10)])


def test_q22_customers_in_countries_takes_the_phone_prefix(spark):
    customer = frame(
        spark,
        "c_custkey int, c_phone string, c_acctbal decimal(15,2)",
        [(1, "13-555-0101", D("1.00")), (2, "99-555-0102", D("2.00")), (3, "31-555-0103", D("3.00"))],
    )
    result = q22.customers_in_countries(customer, codes=("13", "31"))
    assert_frame_equal(result, [("13", 1, D("1.00")), ("31", 3, D("3.00"))])


def test_q22_counts_idle_customers_above_the_average_positive_balance(spark):
    # positive balances average (100 + 50 + 90) / 3 = 80: customers 1 and 4 are above; 4 has ordered
    candidates = frame(
        spark,
        "cntrycode string, c_custkey int, c_acctbal decimal(15,2)",
        [("13", 1, D("100.00")), ("13", 2, D("50.00")), ("31", 3, D("-10.00")), ("31", 4, D("90.00"))],
    )
    orders = frame(spark, "o_custkey bigint", [(4,)])
    result = q22.idle_customers_by_country(candidates, orders)
    assert_frame_equal(result, [("13", 1, D("100.00"))])

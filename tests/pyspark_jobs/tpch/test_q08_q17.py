"""Q08 and Q17 on rows worked out by hand, both flavours.

At SF0.01 their reference answers are degenerate (Q08's share is 0.0 in both years, Q17's
average is NULL): a Q08 whose numerator is always zero, or a Q17 that keeps no line, matches
them. These inputs give each a non-trivial answer that such a defect cannot reach. The
DataFrame transforms are checked alone, then each job, DataFrame and SQL alike, is run over
the same hand-built input tables as a run wires it (`run_steps`: no catalog, no write).
"""

from __future__ import annotations

import pytest

from pyspark_jobs.tpch.tables import CUSTOMER, LINEITEM, NATION, ORDERS, PART, REGION, SUPPLIER
from pyspark_jobs.tpch.transforms import q08, q17
from tests.helpers import D, assert_frame_equal, day, frame, run_steps, table_frame

DS = "1998-12-01"
STEEL = "ECONOMY ANODIZED STEEL"  # Q08's default part type
FLAVOURS = ("tpch.{q}", "tpch.{q}_sql")

# --- Q08 --------------------------------------------------------------------------------------
# Region AMERICA (1) holds BRAZIL (2) and CANADA (3); EUROPE (3) holds GERMANY (7). Customer 1
# is Canadian (counts), customer 2 German (another region: its orders do not count). Part 1 is
# of the measured type, part 2 not. Supplier 1 is Brazilian (the measured nation), 2 German.
# Line revenue is price * (1 - discount):
#   order 10 (customer 1, 1995): part 1 by supplier 1: 100.00           BRAZIL 100
#                                part 1 by supplier 2: 300.00           other  300
#                                part 2 by supplier 1: 1000.00          another type: left out
#   order 11 (customer 1, 1996): part 1 by supplier 1: 200.00 at 50% off BRAZIL 100
#                                part 1 by supplier 2: 100.00           other  100
#   order 12 (customer 2, 1995): part 1 by supplier 1: 500.00           European customer: left out
#   order 13 (customer 1, 1997): part 1 by supplier 1: 500.00           after 1996: left out
# 1995: 100 / (100 + 300) = 0.25; 1996: 100 / (100 + 100) = 0.5.
Q08_ANSWER = [(1995, D("0.250000")), (1996, D("0.500000"))]
Q08_LINES = [  # (order, part, supplier, price, discount)
    (10, 1, 1, "100.00", "0.00"), (10, 1, 2, "300.00", "0.00"), (10, 2, 1, "1000.00", "0.00"),
    (11, 1, 1, "200.00", "0.50"), (11, 1, 2, "100.00", "0.00"),
    (12, 1, 1, "500.00", "0.00"), (13, 1, 1, "500.00", "0.00"),
]
Q08_ORDERS = [(10, 1, "1995-06-01"), (11, 1, "1996-03-01"), (12, 2, "1995-06-01"), (13, 1, "1997-01-01")]


def _q08_inputs(spark):
    return {
        "region": table_frame(spark, REGION, [{"r_regionkey": 1, "r_name": "AMERICA"},
                                              {"r_regionkey": 3, "r_name": "EUROPE"}]),
        "nation": table_frame(spark, NATION, [{"n_nationkey": 2, "n_name": "BRAZIL", "n_regionkey": 1},
                                              {"n_nationkey": 3, "n_name": "CANADA", "n_regionkey": 1},
                                              {"n_nationkey": 7, "n_name": "GERMANY", "n_regionkey": 3}]),
        "customer": table_frame(spark, CUSTOMER, [{"c_custkey": 1, "c_nationkey": 3},
                                                  {"c_custkey": 2, "c_nationkey": 7}]),
        "supplier": table_frame(spark, SUPPLIER, [{"s_suppkey": 1, "s_nationkey": 2},
                                                  {"s_suppkey": 2, "s_nationkey": 7}]),
        "part": table_frame(spark, PART, [{"p_partkey": 1, "p_type": STEEL},
                                          {"p_partkey": 2, "p_type": "PROMO BRUSHED TIN"}]),
        "orders": table_frame(spark, ORDERS, [{"o_orderkey": o, "o_custkey": c, "o_orderdate": day(d)}
                                              for o, c, d in Q08_ORDERS]),
        "lineitem": table_frame(spark, LINEITEM, [
            {"l_orderkey": o, "l_linenumber": n, "l_partkey": p, "l_suppkey": s,
             "l_extendedprice": D(price), "l_discount": D(discount)}
            for n, (o, p, s, price, discount) in enumerate(Q08_LINES, start=1)
        ]),
    }


def test_q08_region_orders_keeps_the_regions_orders_of_1995_and_1996(spark):
    inputs = _q08_inputs(spark)
    result = q08.region_orders(inputs["orders"], inputs["customer"], inputs["nation"], inputs["region"],
                               region_name="AMERICA")
    # order 12 is a European customer's, order 13 is of 1997
    assert_frame_equal(result, [(10, 1995), (11, 1996)])


def test_q08_market_share_is_the_nations_revenue_over_all_revenue(spark):
    inputs = _q08_inputs(spark)
    orders = frame(spark, "o_orderkey bigint, o_year int", [(10, 1995), (11, 1996)])  # region_orders' output
    result = q08.market_share(inputs["lineitem"], inputs["part"], orders, inputs["supplier"], inputs["nation"],
                              supplier_nation="BRAZIL", part_type=STEEL)
    assert_frame_equal(result, Q08_ANSWER)


# --- Q17 --------------------------------------------------------------------------------------
# A line is small when its quantity is under 0.2 x the average quantity of ITS part's lines:
#   part 1 (quantities 3, 47): average 25, threshold 5   -> the quantity-3 line (140.00) is small
#   part 2 (quantities 2, 2):  average 2,  threshold 0.4 -> none
#   part 3 (quantities 1, 9):  average 5,  threshold 1   -> none (1 is not under 1)
#   part 4 (quantity 1): another brand, never counted
# avg_yearly = 140.00 / 7 = 20. A threshold over all lines instead (average 64/6, threshold
# 2.13) would take the two quantity-2 lines and the quantity-1 line of part 3 instead, and no
# threshold at all every line: both give another number.
Q17_LINES = [  # (part, quantity, price)
    (1, "3", "140.00"), (1, "47", "900.00"), (2, "2", "35.00"), (2, "2", "35.00"),
    (3, "1", "10.00"), (3, "9", "90.00"), (4, "1", "5000.00"),
]
Q17_ANSWER = [(D("20.000000"),)]


def _q17_inputs(spark):
    mine = {"p_brand": "Brand#23", "p_container": "MED BOX"}  # Q17's defaults
    return {
        "part": table_frame(spark, PART, [{"p_partkey": 1, **mine}, {"p_partkey": 2, **mine}, {"p_partkey": 3, **mine},
                                          {"p_partkey": 4, "p_brand": "Brand#12", "p_container": "MED BOX"}]),
        "lineitem": table_frame(spark, LINEITEM, [
            {"l_orderkey": n, "l_linenumber": 1, "l_partkey": p, "l_quantity": D(q), "l_extendedprice": D(price)}
            for n, (p, q, price) in enumerate(Q17_LINES, start=1)
        ]),
    }


def test_q17_lines_of_parts_keeps_the_brand_and_container(spark):
    inputs = _q17_inputs(spark)
    result = q17.lines_of_parts(inputs["lineitem"], inputs["part"], brand="Brand#23", container="MED BOX")
    assert_frame_equal(result, [(p, D(q), D(price)) for p, q, price in Q17_LINES if p != 4])


def test_q17_threshold_is_per_part(spark):
    lines = frame(spark, "l_partkey bigint, l_quantity decimal(15,2), l_extendedprice decimal(15,2)",
                  [(p, D(q), D(price)) for p, q, price in Q17_LINES if p != 4])
    assert_frame_equal(q17.small_order_yearly_revenue(lines), Q17_ANSWER)


# --- both jobs, both flavours -----------------------------------------------------------------

@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize(("query", "inputs", "answer"), [
    ("q08", _q08_inputs, Q08_ANSWER),
    ("q17", _q17_inputs, Q17_ANSWER),
])
def test_the_job_gives_the_hand_computed_answer(spark, flavour, query, inputs, answer):
    (result,) = run_steps(flavour.format(q=query), inputs(spark), DS).values()
    assert_frame_equal(result, answer)

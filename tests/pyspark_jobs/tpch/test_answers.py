"""The answer comparison itself: it must accept rounding and reject real differences."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

from common.contracts import Column, Contract
from tests.pyspark_jobs.tpch.answers import Answer, compare, load_answer

CONTRACT = Contract(
    (
        Column("name", "string", nullable=False),
        Column("day", "date", nullable=False),
        Column("revenue", "decimal(38,4)"),
        Column("avg_qty", "decimal(19,6)"),
        Column("share", "double"),
        Column("ds", "string", nullable=False),
    ),
    partition_by=("ds",),
    sort_by=("revenue desc", "name"),
)
ANSWER = Answer(
    path=Path("inline"),
    header=("name", "day", "revenue", "avg_qty", "share"),
    rows=(
        ("b", "1995-01-02", "20.5000", "25.575154611454693", "0.1"),
        ("a", "1995-01-01", "10.25", "3.0", "0.3333333333333333"),
        ("c", "1995-01-03", "10.25", "1.0", None),
    ),
)


def _row(name, day, revenue, avg_qty, share):
    return {"name": name, "day": day, "revenue": Decimal(revenue), "avg_qty": Decimal(avg_qty), "share": share}


def _rows(**changes):
    rows = [
        _row("c", date(1995, 1, 3), "10.2500", "1.000000", None),
        _row("a", date(1995, 1, 1), "10.2500", "3.000000", 1 / 3),
        # Spark's decimal average is rounded to 6 places; the answer's double is not
        _row("b", date(1995, 1, 2), "20.5000", "25.575155", 0.1),
    ]
    for name, value in changes.items():
        rows[2][name] = value
    return rows


def test_equal_results_in_any_row_order_match():
    assert compare(_rows(), ANSWER, CONTRACT) == []


def test_a_number_off_by_more_than_its_rounding_is_reported():
    problems = compare(_rows(avg_qty=Decimal("25.575157")), ANSWER, CONTRACT)
    assert "1 row(s) missing" in problems[0]
    assert any("25.575157" in p for p in problems)


def test_text_dates_and_nulls_compare_exactly():
    assert compare(_rows(name="B"), ANSWER, CONTRACT)
    assert compare(_rows(day=date(1995, 1, 4)), ANSWER, CONTRACT)
    assert compare(_rows(share=None), ANSWER, CONTRACT)


def test_a_missing_row_is_reported_with_the_counts():
    problems = compare(_rows()[:2], ANSWER, CONTRACT)
    assert problems[0] == "2 rows, the answer has 3"


def test_the_order_is_the_contracts_sort_by():
    # the same rows, but a contract that sorts ascending: the answer's order is then wrong
    problems = compare(_rows(), ANSWER, replace(CONTRACT, sort_by=("revenue", "name")))
    assert problems and problems[0].startswith("order: row 1 by (revenue, name)")


def test_columns_must_be_named_as_the_answer():
    renamed = replace(CONTRACT, columns=(Column("nm", "string"), *CONTRACT.columns[1:]), sort_by=())
    assert "differ from the answer's" in compare([], ANSWER, renamed)[0]


def test_the_reference_answers_ship_with_the_tests():
    answer = load_answer("q01", "sf0.01")
    assert answer.path.is_relative_to(Path(__file__).parent / "answers")
    assert answer.header[:2] == ("l_returnflag", "l_linestatus")
    assert len(load_answer("q11", "sf1").rows) == 1048

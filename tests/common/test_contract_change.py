"""Contract changes classified on hand-written contracts whose answers are known."""

from __future__ import annotations

import pytest

from common.contract_change import Change, contract_changes, widens
from common.contracts import Column, Contract

T = "sales.orders"
BASE = Contract(
    (
        Column("order_id", "bigint", nullable=False),
        Column("customer", "string"),
        Column("quantity", "int"),
        Column("amount", "decimal(10,2)"),
        Column("shipped", "date"),
        Column("ds", "string", nullable=False),
    ),
    partition_by=("ds",),
    primary_key=("order_id",),
)


def _with(*columns: Column, partition_by=("ds",), primary_key=("order_id",)) -> Contract:
    return Contract(columns, partition_by=partition_by, primary_key=primary_key)


def _kinds(changes: list[Change]) -> list[tuple[str, str | None, bool]]:
    return [(c.kind, c.column, c.breaking) for c in changes]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("int", "bigint", True),
        ("tinyint", "smallint", True),
        ("smallint", "int", True),
        ("bigint", "int", False),
        ("float", "double", True),
        ("double", "float", False),
        ("int", "double", True),  # 31 magnitude bits fit a 53-bit mantissa
        ("int", "float", False),  # 2^24 + 1 has no float
        ("bigint", "double", False),  # 2^53 + 1 has no double
        ("smallint", "float", True),
        ("int", "decimal(10,0)", True),  # 2147483647 has 10 digits
        ("int", "decimal(9,0)", False),
        ("bigint", "decimal(19,0)", True),  # 9223372036854775807 has 19 digits
        ("bigint", "decimal(20,2)", False),  # 18 integer digits
        ("decimal(10,2)", "decimal(12,2)", True),
        ("decimal(10,2)", "decimal(12,4)", True),  # 8 integer digits either way, more scale
        ("decimal(10,2)", "decimal(11,3)", True),
        ("decimal(10,2)", "decimal(10,3)", False),  # 9999999.99 -> only 7 integer digits left
        ("decimal(10,2)", "decimal(12,1)", False),  # 0.05 has no one-decimal value
        ("decimal(15,2)", "decimal(38,4)", True),
        ("decimal", "decimal(10,0)", True),  # Spark's bare decimal
        ("DECIMAL(10, 2)", "decimal(10,2)", True),
        ("integer", "long", True),
        ("decimal(10,2)", "double", False),
        ("date", "timestamp", False),  # midnight in the session time zone: not the same value
        ("timestamp", "date", False),
        ("int", "string", False),
        ("varchar(10)", "varchar(20)", True),
        ("varchar(10)", "string", True),
        ("string", "varchar(10)", False),
        ("string", "string", True),
    ],
)
def test_widens(old, new, expected):
    assert widens(old, new) is expected


def test_identical_contracts_have_no_change():
    assert contract_changes(T, BASE, BASE) == []


def test_a_new_nullable_column_is_safe_and_a_new_not_null_one_breaks():
    new = _with(*BASE.columns[:-1], Column("note", "string"), Column("channel", "string", nullable=False), BASE.columns[-1])
    assert contract_changes(T, BASE, new) == [
        Change(T, "add_column", "note", None, "note string", False),
        Change(T, "add_column", "channel", None, "channel string NOT NULL", True),
    ]


def test_a_removed_column_breaks():
    new = _with(*(c for c in BASE.columns if c.name != "customer"))
    assert contract_changes(T, BASE, new) == [Change(T, "drop_column", "customer", "customer string", None, True)]


def test_a_column_of_the_same_type_in_the_place_of_a_removed_one_is_a_rename():
    columns = list(BASE.columns)
    columns[1] = Column("customer_name", "string")
    changes = contract_changes(T, BASE, _with(*columns))
    assert changes == [Change(T, "rename_column", "customer_name", "customer", "customer_name", True)]
    assert changes[0].describe() == "sales.orders: column customer renamed to customer_name: readers of customer fail"


def test_a_column_of_another_type_in_its_place_is_a_drop_and_an_add():
    columns = list(BASE.columns)
    columns[1] = Column("customer_id", "bigint")
    assert _kinds(contract_changes(T, BASE, _with(*columns))) == [
        ("add_column", "customer_id", False),
        ("drop_column", "customer", True),
    ]


def test_a_renamed_key_column_is_reported_once_as_a_rename():
    columns = list(BASE.columns)
    columns[0] = Column("id", "bigint", nullable=False)
    changes = contract_changes(T, BASE, _with(*columns, primary_key=("id",)))
    assert _kinds(changes) == [("rename_column", "id", True)]


def test_types_widened_narrowed_and_changed():
    new = _with(
        BASE.columns[0],
        BASE.columns[1],
        Column("quantity", "bigint"),
        Column("amount", "decimal(8,2)"),
        Column("shipped", "timestamp"),
        BASE.columns[5],
    )
    assert contract_changes(T, BASE, new) == [
        Change(T, "widen_type", "quantity", "int", "bigint", False),
        Change(T, "narrow_type", "amount", "decimal(10,2)", "decimal(8,2)", True),
        Change(T, "change_type", "shipped", "date", "timestamp", True),
    ]


def test_nullability_either_way():
    new = _with(
        Column("order_id", "bigint"),  # NOT NULL -> nullable
        Column("customer", "string", nullable=False),  # nullable -> NOT NULL
        *BASE.columns[2:],
    )
    assert _kinds(contract_changes(T, BASE, new)) == [
        ("not_null_to_nullable", "order_id", False),
        ("nullable_to_not_null", "customer", True),
    ]


def test_changed_key_and_partitioning_break():
    changes = contract_changes(T, BASE, _with(*BASE.columns, partition_by=(), primary_key=("order_id", "ds")))
    assert changes == [
        Change(T, "change_key", None, "order_id", "order_id, ds", True),
        Change(T, "change_partitioning", None, "ds", "", True),
    ]


def test_every_description_is_one_line_naming_the_table():
    new = _with(
        Column("order_id", "bigint"),
        Column("customer_name", "string"),
        Column("quantity", "bigint"),
        Column("amount", "decimal(8,2)"),
        Column("shipped", "timestamp", nullable=False),
        Column("note", "string"),
        BASE.columns[5],
        partition_by=(),
        primary_key=("order_id", "ds"),
    )
    changes = contract_changes(T, BASE, new)
    assert {c.kind for c in changes} == {
        "not_null_to_nullable", "rename_column", "widen_type", "narrow_type", "change_type",
        "nullable_to_not_null", "add_column", "change_key", "change_partitioning",
    }
    for change in changes:
        text = change.describe()
        assert text.startswith("sales.orders: ") and "\n" not in text


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown change kind 'drop_table'"):
        Change(T, "drop_table", None, None, None, True)

"""What a change to a table's contract does to the table's readers: safe or breaking.

Pure and pyspark-free: it compares two `Contract`s, nothing else, so `check --against` and
`migrate-table` classify a change the same way.

Safe: a new nullable column, a widened type (every old value is exactly a value of the new
type), NOT NULL -> nullable. Breaking: a removed or renamed column, a narrowed or otherwise
changed type, nullable -> NOT NULL, a new NOT NULL column (the rows already written have no
value for it), a changed primary key or partitioning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from common.contracts import Column, Contract

__all__ = ["Change", "KINDS", "contract_changes", "widens"]

KINDS = (
    "add_column",
    "drop_column",
    "rename_column",
    "widen_type",
    "narrow_type",
    "change_type",
    "nullable_to_not_null",
    "not_null_to_nullable",
    "change_key",
    "change_partitioning",
    "change_format",
)

# Spark DDL aliases, to their canonical names.
_ALIASES = {
    "byte": "tinyint",
    "short": "smallint",
    "integer": "int",
    "long": "bigint",
    "real": "float",
    "dec": "decimal",
    "numeric": "decimal",
}
# Integral types, narrowest first, with the decimal digits each needs to hold every value
# (bigint's largest, 9223372036854775807, has 19) and the bits of its magnitude.
_INTEGRAL = {"tinyint": (3, 7), "smallint": (5, 15), "int": (10, 31), "bigint": (19, 63)}
# Mantissa bits: an integral type fits a floating type exactly when its magnitude bits do.
_MANTISSA = {"float": 24, "double": 53}
_DECIMAL = re.compile(r"^decimal(?:\((\d+)(?:,(\d+))?\))?$")
_VARCHAR = re.compile(r"^(varchar|char)\((\d+)\)$")


def _canonical(ddl: str) -> str:
    text = re.sub(r"\s+", "", ddl.lower())
    head, paren, rest = text.partition("(")
    return _ALIASES.get(head, head) + paren + rest


def _decimal(ddl: str) -> tuple[int, int] | None:
    """(precision, scale) of a decimal type; a bare `decimal` is Spark's decimal(10,0)."""
    found = _DECIMAL.fullmatch(ddl)
    if not found:
        return None
    return int(found.group(1) or 10), int(found.group(2) or 0)


def widens(old_type: str, new_type: str) -> bool:
    """True when every value of `old_type` is exactly a value of `new_type` (Spark DDL types).

    An identical type widens trivially. tinyint < smallint < int < bigint; float -> double;
    an integral type -> a decimal with enough integer digits, or -> float/double when its
    magnitude fits the mantissa (int -> double yes, bigint -> double no); decimal(p,s) ->
    decimal(p2,s2) when p2-s2 >= p-s and s2 >= s; varchar(n) -> varchar(m >= n) or string.
    date -> timestamp is not a widening: a date becomes midnight in the session time zone, so
    one stored date reads as different instants under different time zones, and a reader
    comparing it with a date (`= DATE'1995-03-15'`) silently stops matching non-midnight rows
    written later. Numbers -> string are not either: order and comparison change meaning.
    """
    old, new = _canonical(old_type), _canonical(new_type)
    if old == new:
        return True
    if old in _INTEGRAL:
        digits, bits = _INTEGRAL[old]
        if new in _INTEGRAL:
            return _INTEGRAL[new][0] >= digits
        if new in _MANTISSA:
            return _MANTISSA[new] >= bits
        wide = _decimal(new)
        return wide is not None and wide[0] - wide[1] >= digits
    if old == "float":
        return new == "double"
    narrow, wide = _decimal(old), _decimal(new)
    if narrow is not None:
        return wide is not None and wide[0] - wide[1] >= narrow[0] - narrow[1] and wide[1] >= narrow[1]
    short = _VARCHAR.fullmatch(old)
    if short and short.group(1) == "varchar":
        longer = _VARCHAR.fullmatch(new)
        return new == "string" or bool(longer and longer.group(1) == "varchar" and int(longer.group(2)) >= int(short.group(2)))
    return False


def _render(column: Column) -> str:
    return f"{column.name} {column.type}" + ("" if column.nullable else " NOT NULL")


@dataclass(frozen=True)
class Change:
    """One change to a table's contract; `old` and `new` are column names, types or key lists."""

    table: str
    kind: str
    column: str | None
    old: str | None
    new: str | None
    breaking: bool

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown change kind {self.kind!r}; one of {', '.join(KINDS)}")

    def describe(self) -> str:
        """One line: the table, what changed, and for a breaking change why it breaks."""
        what = {
            "add_column": f"new column {self.new}"
            + (": the rows already written have no value for it" if self.breaking else ""),
            "drop_column": f"column {self.old} removed: its readers fail",
            "rename_column": f"column {self.old} renamed to {self.new}: readers of {self.old} fail",
            "widen_type": f"column {self.column} widened from {self.old} to {self.new}",
            "narrow_type": f"column {self.column} narrowed from {self.old} to {self.new}: values already written may not fit",
            "change_type": f"column {self.column} changes type from {self.old} to {self.new}: not a widening",
            "nullable_to_not_null": f"column {self.column} becomes NOT NULL: rows already written may hold nulls",
            "not_null_to_nullable": f"column {self.column} becomes nullable",
            "change_key": f"primary key ({self.old}) becomes ({self.new}): rows are identified differently",
            "change_partitioning": f"partitioning ({self.old}) becomes ({self.new}): the files already written are laid out by the old one",
            "change_format": f"format {self.old} becomes {self.new}: converted in place, each partition's current version "
            "its first snapshot (the data files are kept, not copied; earlier versions are no longer listed)",
        }[self.kind]
        return f"{self.table}: {what}"


def _renames(old: Contract, new: Contract) -> dict[str, str]:
    """Old name -> new name: a column dropped and one added in its place, of the same type."""
    dropped = set(old.names) - set(new.names)
    added = set(new.names) - set(old.names)
    pairs = {}
    for before, after in zip(old.columns, new.columns):
        if before.name in dropped and after.name in added and _canonical(before.type) == _canonical(after.type):
            pairs[before.name] = after.name
    return pairs


def _column_changes(table: str, before: Column, after: Column) -> list[Change]:
    found = []
    if _canonical(before.type) != _canonical(after.type):
        if widens(before.type, after.type):
            kind, breaking = "widen_type", False
        elif widens(after.type, before.type):
            kind, breaking = "narrow_type", True
        else:
            kind, breaking = "change_type", True
        found.append(Change(table, kind, after.name, before.type, after.type, breaking))
    if before.nullable and not after.nullable:
        found.append(Change(table, "nullable_to_not_null", after.name, "nullable", "NOT NULL", True))
    elif after.nullable and not before.nullable:
        found.append(Change(table, "not_null_to_nullable", after.name, "NOT NULL", "nullable", False))
    return found


def contract_changes(table: str, old: Contract, new: Contract) -> list[Change]:
    """Every change from `old` to `new`, in the new contract's column order, then key and partitioning.

    A rename is a dropped column and an added one of the same type at the same position; a
    key or partitioning that differs only by such a rename is not reported again.
    """
    renames = _renames(old, new)
    renamed_from = {after: before for before, after in renames.items()}
    found: list[Change] = []
    for column in new.columns:
        if column.name in renamed_from:
            before = old.column(renamed_from[column.name])
            found.append(Change(table, "rename_column", column.name, before.name, column.name, True))
            found += _column_changes(table, before, column)
        elif column.name in old.names:
            found += _column_changes(table, old.column(column.name), column)
        else:
            found.append(Change(table, "add_column", column.name, None, _render(column), not column.nullable))
    for column in old.columns:
        if column.name not in new.names and column.name not in renames:
            found.append(Change(table, "drop_column", column.name, _render(column), None, True))
    for kind, before, after in (
        ("change_key", old.primary_key, new.primary_key),
        ("change_partitioning", old.partition_by, new.partition_by),
    ):
        if tuple(renames.get(name, name) for name in before) != after:
            found.append(Change(table, kind, None, ", ".join(before), ", ".join(after), True))
    return found

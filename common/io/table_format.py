"""What the warehouse writer asks of a table format: stage a version, publish it, list, restore, expire,
remove what no version holds.

`common/io/hive.py` (Hive-style parquet: each version a `run=<id>` directory, published by
pointing the partition at it in the metastore) and `common/io/iceberg.py` (Apache Iceberg:
each version a snapshot, staged unpublished and then cherry-picked) implement it; the writer
(`common/io/warehouse.py`) validates what a format staged before it publishes anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from common.contracts import HIVE, ICEBERG, RUN_DATE_COLUMNS, Contract, Table
from common.errors import SourceError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

__all__ = ["Staged", "TableFormat", "TableInfo", "Version", "describe", "described", "format_for", "literal", "provider",
           "run_date_value"]


@dataclass(frozen=True)
class Staged:
    """A written, not yet published version of one output."""

    table: Table
    physical: str
    run_id: str
    handle: Any  # the format's own: a run= directory, a staged snapshot id
    partitions: tuple[dict[str, str], ...] = ()  # the partitions it replaces ({} for a whole table)
    rows: int = 0
    seconds: float = 0.0
    # The format saw the data hold no rows (Spark then reports no observed counts for the write).
    empty: bool = False


@dataclass(frozen=True)
class Version:
    """One version of a partition (or of an unpartitioned table), as `history` lists it."""

    version: str  # what `rollback --to` takes: a run id (hive) or a snapshot id (iceberg)
    run_id: str
    written_at: datetime | None
    rows: int | None
    current: bool
    detail: dict[str, str] = field(default_factory=dict)


class TableFormat(Protocol):
    name: str

    def create(self, spark: SparkSession, table: Table, physical: str, location: str) -> None: ...

    def known(self, table: Table, info: TableInfo) -> None:
        """The table as the writer found it: the format asks the catalog nothing it says."""

    def stage(self, df: DataFrame, table: Table, physical: str, run_id: str, ds: str) -> Staged: ...

    def read_staged(self, spark: SparkSession, staged: Staged) -> DataFrame: ...

    def discard(self, spark: SparkSession, staged: Staged) -> None: ...

    def publish(self, spark: SparkSession, staged: Staged) -> str: ...

    def expire(
        self, spark: SparkSession, table: Table, physical: str, now: float, ds: str | None = None, *, dry_run: bool = False
    ) -> list[str]: ...

    def remove_orphans(self, spark: SparkSession, table: Table, physical: str, now: float, *,
                       dry_run: bool = False) -> list[str]: ...

    def history(self, spark: SparkSession, table: Table, physical: str, ds: str | None) -> list[Version]: ...

    def rollback(self, spark: SparkSession, table: Table, physical: str, ds: str | None, version: str) -> Version: ...


def format_for(name: str) -> TableFormat:
    if name == ICEBERG:
        from common.io.iceberg import IcebergFormat

        return IcebergFormat()
    if name == HIVE:
        from common.io.hive import HiveFormat

        return HiveFormat()
    raise ValueError(f"unknown table format {name!r}; use 'iceberg' or 'hive'")


def run_date_value(column: str, ds: str) -> str:
    """The value of run-date partition column `column` for run date `ds` (YYYY-MM-DD)."""
    return date.fromisoformat(ds).strftime(RUN_DATE_COLUMNS[column])


KEY_PROPERTY = "pyspark_jobs.primary_key"  # the contract's key, comma-separated ("" for none)
NOT_NULL_PROPERTY = "pyspark_jobs.not_null"  # its NOT NULL columns, comma-separated


def contract_properties(contract: Contract) -> dict[str, str]:
    """What the metastore does not record of a contract, as table properties: its key and its
    NOT NULL columns. Every table the writer creates carries them; `contracts import` reads them."""
    return {KEY_PROPERTY: ",".join(contract.primary_key),
            NOT_NULL_PROPERTY: ",".join(c.name for c in contract.columns if not c.nullable)}


def columns_sql(contract: Contract) -> str:
    """The columns of a CREATE TABLE, each with its description as its comment (which the
    metastore records, and an import reads back). NOT NULL is the contract's check on every write."""
    return ", ".join(f"`{c.name}` {c.type}" + (f" COMMENT {literal(c.description)}" if c.description else "")
                     for c in contract.columns)


def properties_sql(properties: dict[str, str]) -> str:
    """`'k'='v', ...` for TBLPROPERTIES (...)."""
    return ", ".join(f"{literal(k)}={literal(v)}" for k, v in properties.items())


def literal(value: str) -> str:
    """A SQL string literal of `value` (backslashes and quotes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class TableInfo:
    """An existing table as one `DESCRIBE TABLE EXTENDED` gives it: all a run's writer asks of it
    (its format, its location, its columns), so the writer and the format look it up once."""

    physical: str
    format: str  # iceberg or hive
    location: str
    columns: tuple[tuple[str, str], ...]  # (name, Spark's type name), partition columns included

    def schema(self) -> StructType:
        from pyspark.sql import types as T

        # One parse of the whole column list: each parse is a JVM round trip.
        return T._parse_datatype_string(", ".join(f"`{n.replace('`', '``')}` {t}" for n, t in self.columns))


def describe(spark: SparkSession, physical: str) -> TableInfo | None:
    """The table `physical`, or None when the catalog has no such table (or no such database)."""
    from pyspark.errors import AnalysisException

    try:
        columns, details = _description(spark, physical)
    except AnalysisException as exc:
        if exc.getErrorClass() == "TABLE_OR_VIEW_NOT_FOUND":
            return None
        raise
    return TableInfo(physical, _format(details), _location(details), tuple(columns))


def described(spark: SparkSession, target: str) -> dict[str, str]:
    """The details `DESCRIBE TABLE EXTENDED target` gives (Location, Type, Provider, ...)."""
    return _description(spark, target)[1]


def _description(spark: SparkSession, target: str) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """The columns and the details of `DESCRIBE TABLE EXTENDED target`.

    The columns come first, up to the first blank or `#` row (partitioning, metadata columns);
    of the details, the first of each name: a partition's own come before its table's storage ones."""
    columns: list[tuple[str, str]] = []
    details: dict[str, str] = {}
    in_columns = True
    for row in spark.sql(f"DESCRIBE TABLE EXTENDED {target}").collect():
        in_columns = in_columns and bool(row.col_name) and not row.col_name.startswith("#")
        if in_columns:
            columns.append((row.col_name, row.data_type))
        elif details or row.col_name.startswith("# Detailed"):
            details.setdefault(row.col_name, row.data_type)
    return columns, details


def _format(details: dict[str, str]) -> str:
    return ICEBERG if details.get("Provider", "").lower() == ICEBERG else HIVE


def _location(details: dict[str, str]) -> str:
    location = details.get("Location")
    if not location:
        raise SourceError("the metastore gave no location for a table the run writes; check the table's definition")
    return location


def provider(spark: SparkSession, physical: str) -> str:
    """The format an existing table is stored in: "iceberg" or "hive" (parquet or any other)."""
    return _format(described(spark, physical))


def location_of(spark: SparkSession, target: str) -> str:
    return _location(described(spark, target))

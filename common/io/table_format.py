"""What the warehouse writer asks of a table format: stage a version, publish it, list, restore, expire.

`common/io/hive.py` (Hive-style parquet: each version a `run=<id>` directory, published by
pointing the partition at it in the metastore) and `common/io/iceberg.py` (Apache Iceberg:
each version a snapshot, staged unpublished and then cherry-picked) implement it; the writer
(`common/io/warehouse.py`) validates what a format staged before it publishes anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from common.contracts import HIVE, ICEBERG, RUN_DATE_COLUMNS, Table
from common.errors import SourceError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["Staged", "TableFormat", "Version", "described", "format_for", "literal", "provider", "run_date_value"]


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

    def stage(self, df: DataFrame, table: Table, physical: str, run_id: str, ds: str) -> Staged: ...

    def read_staged(self, spark: SparkSession, staged: Staged) -> DataFrame: ...

    def discard(self, spark: SparkSession, staged: Staged) -> None: ...

    def publish(self, spark: SparkSession, staged: Staged) -> str: ...

    def expire(
        self, spark: SparkSession, table: Table, physical: str, now: float, ds: str | None = None, *, dry_run: bool = False
    ) -> list[str]: ...

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


def literal(value: str) -> str:
    """A SQL string literal of `value` (backslashes and quotes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def described(spark: SparkSession, target: str) -> dict[str, str]:
    """The details `DESCRIBE TABLE EXTENDED target` gives (Location, Type, Provider, ...).

    The first of each name: a partition's own details come before its table's storage ones."""
    details: dict[str, str] = {}
    for row in spark.sql(f"DESCRIBE TABLE EXTENDED {target}").collect():
        if details or row.col_name.startswith("# Detailed"):  # the column rows come first
            details.setdefault(row.col_name, row.data_type)
    return details


def provider(spark: SparkSession, physical: str) -> str:
    """The format an existing table is stored in: "iceberg" or "hive" (parquet or any other)."""
    return ICEBERG if described(spark, physical).get("Provider", "").lower() == ICEBERG else HIVE


def location_of(spark: SparkSession, target: str) -> str:
    location = described(spark, target).get("Location")
    if not location:
        raise SourceError("the metastore gave no location for a table the run writes; check the table's definition")
    return location

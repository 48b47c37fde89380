"""Table contracts: columns, Spark types, nullability, partition columns, primary key.

Types are Spark DDL strings ("bigint", "decimal(15,2)", "date") so contracts import without
pyspark; `Contract.schema()` turns them into a StructType when a session exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import DataType, StructType

__all__ = [
    "Column", "Contract", "Table", "FORMATS", "HIVE", "ICEBERG", "RUN_DATE_COLUMNS", "TODO_COLUMN", "WAREHOUSE", "MYSQL",
    "todo_contract",
]

WAREHOUSE = "warehouse"
MYSQL = "mysql"
_STORES = (WAREHOUSE, MYSQL)
ICEBERG, HIVE = "iceberg", "hive"
FORMATS = (ICEBERG, HIVE)  # a warehouse table's format: Apache Iceberg, or Hive-style parquet
# Partition columns the writer fills from the run's ds, and how: a run writes the partitions of
# its own date only. Any other partition column (an hour, a region) comes from the data.
RUN_DATE_COLUMNS = {"ds": "%Y-%m-%d", "dt": "%Y%m%d"}
# "mysql" is the default MySQL source; "mysql:<source>" another one, configured on its own.
_MYSQL_SOURCE = re.compile(r"^mysql:[a-z][a-z0-9_]*$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
# The one column of a contract still to be written (`pyspark-jobs migrate` could not read it).
TODO_COLUMN = "todo_fill_in_this_contract"


@cache
def _spark_type(ddl: str) -> DataType:
    """Parsed once per type string: each parse is several JVM round trips."""
    from pyspark.sql import types as T

    return T._parse_datatype_string(ddl)


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = True
    description: str = ""


@dataclass(frozen=True)
class Contract:
    columns: tuple[Column, ...]
    partition_by: tuple[str, ...] = ()
    primary_key: tuple[str, ...] = ()
    # The order the rows mean, as "col" or "col desc": a table keeps no order, readers sort.
    sort_by: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"contract lists column(s) twice: {', '.join(dupes)}")
        sort_columns = tuple(item.split()[0] for item in self.sort_by)
        for key in (*self.primary_key, *sort_columns):
            if key not in names:
                raise ValueError(f"contract key column {key!r} is not one of its columns")
        for key in self.partition_by:
            if key not in names:
                raise ValueError(f"partition column {key!r} is not one of the contract's columns; add it to the columns")
        if len(self.run_date_columns) > 1:
            raise ValueError(f"contract partitions by {' and '.join(self.run_date_columns)}: one run-date column at most")

    @property
    def todo(self) -> str:
        """Why this contract is still to be written; "" for a real contract (`check` reports it)."""
        first = self.columns[0] if len(self.columns) == 1 else None
        return first.description or "to fill in" if first is not None and first.name == TODO_COLUMN else ""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def data_columns(self) -> tuple[Column, ...]:
        """Columns a transform produces: everything but the run-date partition columns the writer adds."""
        return tuple(c for c in self.columns if c.name not in self.run_date_columns)

    @property
    def run_date_columns(self) -> tuple[str, ...]:
        """The partition columns that hold the run's ds (`ds`, `dt`): the writer fills them."""
        return tuple(c for c in self.partition_by if c in RUN_DATE_COLUMNS)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def ddl(self) -> str:
        return ", ".join(f"`{c.name}` {c.type}" + ("" if c.nullable else " NOT NULL") for c in self.columns)

    def schema(self, *, data_only: bool = False) -> StructType:
        from pyspark.sql import types as T

        cols = self.data_columns if data_only else self.columns
        return T.StructType(
            [T.StructField(c.name, _spark_type(c.type), c.nullable) for c in cols]
        )

    def empty_frame(self, spark: SparkSession) -> DataFrame:
        """An empty DataFrame of this schema, NOT NULL kept: what `check` and `migrate` analyse
        plans on, reading nothing."""
        return spark.createDataFrame([], self.schema())


def todo_contract(reason: str) -> Contract:
    """A placeholder contract: `check` fails on it, with `reason`, until the columns are written."""
    return Contract((Column(TODO_COLUMN, "string", description=reason),))


@dataclass(frozen=True)
class Table:
    """A logical table `database.table`, the store it lives in, and its contract."""

    name: str
    contract: Contract
    store: str = WAREHOUSE
    description: str = ""
    # MySQL only: the integral column JDBC reads are split on (defaults to the primary key).
    split_column: str | None = field(default=None)
    # MySQL only: rows per round trip of its JDBC read, where the deployment's default
    # (PYSPARK_JOBS_JDBC_FETCH_SIZE) suits it badly: fewer for very wide rows, more for narrow ones.
    fetch_size: int | None = None
    # Checked on every read: NOT NULL columns hold no nulls and the primary key is unique. For
    # dimensions, where a duplicated key silently multiplies the rows of every join.
    check_keys: bool = False
    # Written outside this project (loaded, replicated): `check` expects no job to write it.
    source: bool = False
    # Warehouse tables a job writes: "iceberg" (new tables) or "hive" (parquet, existing lakes).
    format: str = ICEBERG
    # How long a replaced version stays readable (and restorable with `pyspark-jobs rollback`).
    retention_days: float = 3.0
    # An output a run leaves with no rows is refused and nothing is published (its inputs most
    # likely hold no data for ds yet); True where an empty day is a valid result.
    allow_empty: bool = False

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"table name {self.name!r} must be 'database.table' in lower snake case")
        if self.check_keys and not self.contract.primary_key:
            raise ValueError(f"table {self.name}: check_keys needs a primary_key in the contract")
        if self.store not in _STORES and not _MYSQL_SOURCE.fullmatch(self.store):
            raise ValueError(
                f"table {self.name}: store must be 'warehouse', 'mysql' or 'mysql:<source>', not {self.store!r}"
            )
        if self.format not in FORMATS:
            raise ValueError(f"table {self.name}: format must be 'iceberg' or 'hive', not {self.format!r}")
        if self.fetch_size is not None and not self.is_mysql:
            raise ValueError(f"table {self.name}: fetch_size applies to MySQL tables only (store 'mysql' or "
                             f"'mysql:<source>'), not to store {self.store!r}")
        if self.fetch_size is not None and (type(self.fetch_size) is not int or self.fetch_size < 1):
            raise ValueError(f"table {self.name}: fetch_size is rows per round trip: a whole number above 0, "
                             f"not {self.fetch_size!r}")
        if self.retention_days < 0:
            raise ValueError(f"table {self.name}: retention_days must be 0 or more, not {self.retention_days}")

    @property
    def is_mysql(self) -> bool:
        return self.mysql_source is not None

    @property
    def mysql_source(self) -> str | None:
        """The MySQL source this table lives in ("default" for store "mysql"), or None."""
        if self.store == MYSQL:
            return "default"
        return self.store.split(":", 1)[1] if self.store.startswith(MYSQL + ":") else None

    @property
    def database(self) -> str:
        return self.name.split(".")[0]

    @property
    def table(self) -> str:
        return self.name.split(".")[1]

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
    from pyspark.sql.types import DataType, StructType

__all__ = ["Column", "Contract", "Table", "WAREHOUSE", "MYSQL"]

WAREHOUSE = "warehouse"
MYSQL = "mysql"
_STORES = (WAREHOUSE, MYSQL)
# "mysql" is the default MySQL source; "mysql:<source>" another one, configured on its own.
_MYSQL_SOURCE = re.compile(r"^mysql:[a-z][a-z0-9_]*$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


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
        for key in (*self.partition_by, *self.primary_key, *sort_columns):
            if key not in names:
                raise ValueError(f"contract key column {key!r} is not one of its columns")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def data_columns(self) -> tuple[Column, ...]:
        """Columns a transform produces: everything but the partition columns the writer adds."""
        return tuple(c for c in self.columns if c.name not in self.partition_by)

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


@dataclass(frozen=True)
class Table:
    """A logical table `database.table`, the store it lives in, and its contract."""

    name: str
    contract: Contract
    store: str = WAREHOUSE
    description: str = ""
    # MySQL only: the integral column JDBC reads are split on (defaults to the primary key).
    split_column: str | None = field(default=None)
    # Checked on every read: NOT NULL columns hold no nulls and the primary key is unique. For
    # dimensions, where a duplicated key silently multiplies the rows of every join.
    check_keys: bool = False
    # Written outside this project (loaded, replicated): `check` expects no job to write it.
    source: bool = False

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"table name {self.name!r} must be 'database.table' in lower snake case")
        if self.check_keys and not self.contract.primary_key:
            raise ValueError(f"table {self.name}: check_keys needs a primary_key in the contract")
        if self.store not in _STORES and not _MYSQL_SOURCE.fullmatch(self.store):
            raise ValueError(
                f"table {self.name}: store must be 'warehouse', 'mysql' or 'mysql:<source>', not {self.store!r}"
            )

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

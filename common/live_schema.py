"""Contracts read from live schemas, and the Python code that declares them.

A lake table as the metastore describes it (columns, types, partition columns, its format);
a MySQL table as its information_schema and the JDBC reader see it (the types the reader
maps its columns to, NOT NULL, the primary key in key order). `pyspark-jobs contracts
import` prints the code, `contracts diff` compares a declared contract with the live one,
`migrate` and `new` use the same reading for the tables they find.

The metastore records neither NOT NULL nor a key for a lake table, so every table the
writer creates carries its contract's key and NOT NULL columns as table properties
(`pyspark_jobs.primary_key`, `pyspark_jobs.not_null`; dev/load_tpch.py sets them on the TPC-H
tables from the specification's keys), and an import reads them back. A table without them
(written by something else) imports with nullable columns and its key as a TODO, and
`contracts diff` compares it by columns, types, partitioning and format only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from common.contract_change import contract_changes
from common.contracts import HIVE, ICEBERG, MYSQL, WAREHOUSE, Column, Contract, Table, todo_contract
from common.errors import ParamError, SourceError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from common.settings import MysqlSettings, Settings

__all__ = ["LiveTable", "lake_contract", "mysql_contract", "read_contract", "import_table", "live_table",
           "table_code", "module_code", "contract_differences", "literal_code", "declared_tables"]

_NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
KEY_TODO = "TODO: the table records no key: declare the columns that identify a row"


@dataclass(frozen=True)
class LiveTable:
    """A table as its store describes it; `knows_keys` is False where the store records no
    NOT NULL and no key (the metastore), so those are not compared."""

    table: Table
    knows_keys: bool


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:200]


def lake_format(spark: SparkSession, name: str) -> str:
    """`iceberg` or `hive` (any other provider reads as Hive-style files)."""
    rows = spark.sql(f"DESCRIBE TABLE EXTENDED {name}").collect()
    provider = next((r[1] for r in rows if r[0] == "Provider"), "") or ""
    return ICEBERG if provider.lower() == ICEBERG else HIVE


def lake_contract(spark: SparkSession, name: str) -> tuple[Contract, bool] | None:
    """Columns, types, descriptions (comments) and partition columns from the metastore, with
    the key and NOT NULL columns the table's properties record, and whether they do; None when
    there is no such table."""
    from common.io.table_format import KEY_PROPERTY, NOT_NULL_PROPERTY

    if not spark.catalog.tableExists(name):
        return None
    columns = spark.catalog.listColumns(name)
    properties = {row[0]: row[1] for row in spark.sql(f"SHOW TBLPROPERTIES {name}").collect()}
    recorded = KEY_PROPERTY in properties and NOT_NULL_PROPERTY in properties
    not_null = set(properties.get(NOT_NULL_PROPERTY, "").split(","))
    key = tuple(column for column in properties.get(KEY_PROPERTY, "").split(",") if column)
    return Contract(tuple(Column(c.name, c.dataType, c.name not in not_null, c.description or "") for c in columns),
                    partition_by=tuple(c.name for c in columns if c.isPartition), primary_key=key), recorded


def _jdbc(spark: SparkSession, mysql: MysqlSettings, **options: str) -> list:
    from common.io.mysql import DRIVER

    reader = spark.read.format("jdbc").options(url=mysql.jdbc_url, driver=DRIVER, user=mysql.user,
                                               password=mysql.password, **options)
    return reader.load()


def mysql_contract(spark: SparkSession, mysql: MysqlSettings, name: str) -> Contract | None:
    """Types as the JDBC reader maps them, NOT NULL and the primary key in key order; None when
    information_schema has no such table."""
    db, table = name.split(".")
    where = f"table_schema = '{db}' AND table_name = '{table}'"  # both match _NAME: no quoting to escape
    rows = _jdbc(spark, mysql, query="SELECT column_name, is_nullable FROM information_schema.columns "
                                     f"WHERE {where} ORDER BY ordinal_position").collect()
    if not rows:
        return None
    key = _jdbc(spark, mysql, query="SELECT column_name FROM information_schema.key_column_usage "
                                    f"WHERE {where} AND constraint_name = 'PRIMARY' ORDER BY ordinal_position").collect()
    schema = _jdbc(spark, mysql, dbtable=f"`{db}`.`{table}`").schema  # no rows read: the schema query only
    nullable = {r[0].lower(): r[1] == "YES" for r in rows}
    return Contract(tuple(Column(f.name, f.dataType.simpleString(), nullable.get(f.name.lower(), True))
                          for f in schema),
                    primary_key=tuple(r[0] for r in key))


def read_contract(spark: SparkSession, mysql: MysqlSettings | None, name: str) -> Table:
    """A source table as the metastore or MySQL describes it; a placeholder contract (which
    `check` reports) naming why when neither can."""
    tried = []
    try:
        found = lake_contract(spark, name)
        if found is not None:
            return Table(name, found[0], source=True)
        tried.append("not in the metastore")
    except Exception as exc:  # noqa: BLE001 - the metastore's failure is the placeholder's reason
        tried.append(f"metastore unreachable: {_first_line(exc)[:120]}")
    if mysql is not None:
        try:
            contract = mysql_contract(spark, mysql, name)
            if contract is not None:
                return Table(name, contract, store=MYSQL, source=True)
            tried.append("not in MySQL's information_schema")
        except Exception as exc:  # noqa: BLE001
            tried.append(f"MySQL unreachable: {_first_line(exc)[:120]}")
    return Table(name, todo_contract("; ".join(tried) + ": write its columns"), source=True)


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise ParamError(f"{name!r} is not a table name: give database.table in lower snake case")


def live_table(spark: SparkSession, settings: Settings, name: str, store: str | None = None,
               physical: str | None = None) -> LiveTable:
    """`name` as its store describes it now, or a SourceError in one line: no such table, or
    the store does not answer. Without `store`, the metastore first, then the default MySQL.
    `physical` is the metastore name of a warehouse table when it differs (a qa copy)."""
    _check_name(name)
    if store not in (None, WAREHOUSE, MYSQL) and not re.fullmatch(r"mysql:[a-z][a-z0-9_]*", store):
        raise ParamError(f"store {store!r} is not one: give warehouse, mysql or mysql:<source>")
    looked = []
    if store in (None, WAREHOUSE):
        where = physical or name
        try:
            found = lake_contract(spark, where)
            table_format = lake_format(spark, where) if found is not None else None
        except Exception as exc:  # noqa: BLE001 - one line: which service, what to do
            raise SourceError(f"the metastore did not answer for {where} ({_first_line(exc)}): "
                              "start it (make services) or check the deployment's metastore address") from None
        if found is not None:
            return LiveTable(Table(name, found[0], source=True, format=table_format), knows_keys=found[1])
        looked.append("in the metastore")
    if store is None or store.startswith(MYSQL):
        source = "default" if store in (None, MYSQL) else store.split(":", 1)[1]
        mysql = settings.mysql_source(source)
        try:
            contract = mysql_contract(spark, mysql, name)
        except Exception as exc:  # noqa: BLE001
            raise SourceError(f"MySQL source {source} did not answer at {mysql.host}:{mysql.port} "
                              f"({_first_line(exc)}): start it (make services) or check its settings") from None
        if contract is not None:
            return LiveTable(Table(name, contract, store=store or MYSQL, source=True), knows_keys=True)
        looked.append(f"in MySQL source {source}")
    raise SourceError(f"no table {name} {' or '.join(looked)}: check the name and --store")


def import_table(spark: SparkSession, settings: Settings, name: str, store: str | None = None) -> Table:
    return live_table(spark, settings, name, store).table


# -- code -----------------------------------------------------------------------------------


def literal_code(value: object) -> str:
    """A Python literal in the project's style (double quotes)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, tuple):
        return "(" + ", ".join(map(literal_code, value)) + ("," if len(value) == 1 else "") + ")"
    return repr(value)


def table_code(table: Table, pad: str = "", *, key_todo: bool | str = False) -> str:
    """`Table(...)` as it is declared in a job module; `key_todo` marks a key still to declare
    (True: the metastore's reason, or the comment's own text). A source's format is left out:
    it is read whatever its format, and only writes use one."""
    q, contract = literal_code, table.contract
    if contract.todo:
        code = f"todo_contract({q(contract.todo)})"
    else:
        cols = "".join(f"{pad}            Column({q(c.name)}, {q(c.type)}{'' if c.nullable else ', nullable=False'}"
                       f"{f', description={q(c.description)}' if c.description else ''}),\n" for c in contract.columns)
        extra = "".join(f"{pad}        {k}={q(v)},\n" for k, v in (("partition_by", contract.partition_by),
                                                                  ("primary_key", contract.primary_key)) if v)
        if key_todo and not contract.primary_key:
            extra += f"{pad}        # {KEY_TODO if key_todo is True else key_todo}\n"
        code = f"Contract(\n{pad}        (\n{cols}{pad}        ),\n{extra}{pad}    )"
    kwargs = "".join([f",\n{pad}    store=" + ("MYSQL" if table.store == MYSQL else q(table.store))
                      if table.store != WAREHOUSE else "", f",\n{pad}    source=True" if table.source else "",
                      f",\n{pad}    format={q(table.format)}" if table.format != ICEBERG and not table.source else "",
                      f",\n{pad}    description={q(table.description)}" if table.description else ""])
    return f"Table(\n{pad}    {q(table.name)},\n{pad}    {code}{kwargs},\n{pad})"


def module_code(tables: list[LiveTable]) -> str:
    """A module declaring each table as a constant named after it, ready to import from jobs."""
    names = [t.table.table.upper() for t in tables]
    heads = ["Column", "Contract", "Table"] + (["MYSQL"] if any(t.table.store == MYSQL for t in tables) else [])
    body = "".join(f"\n{n} = {table_code(t.table, key_todo=not t.knows_keys)}\n" for n, t in zip(names, tables))
    return ('"""Contracts imported from the live schemas by `pyspark-jobs contracts import`."""\n\n'
            "from __future__ import annotations\n\n"
            f"from common.contracts import {', '.join(sorted(heads))}\n\n"
            f"__all__ = [{', '.join(literal_code(n) for n in names)}]\n{body}")


# -- diff -----------------------------------------------------------------------------------


def declared_tables() -> dict[str, Table]:
    """Every table a job reads or writes, by name (a source as its readers declare it)."""
    from common.registry import discover

    found: dict[str, Table] = {}
    for job in discover().values():
        for table in (*job.outputs.values(), *job.inputs.values()):
            found.setdefault(table.name, table)
    return dict(sorted(found.items()))


def contract_differences(declared: Table, live: LiveTable) -> list[str]:
    """Where `declared` and the live table differ, one line each; nothing when they agree.
    Where the store records no NOT NULL and no key, the declared ones are not compared; the
    format only for a table jobs write (a source is read whatever its format)."""
    have = live.table.contract
    if not live.knows_keys:
        own = {c.name: c for c in declared.contract.columns}
        have = Contract(tuple(Column(c.name, c.type, own[c.name].nullable if c.name in own else True)
                              for c in have.columns),
                        partition_by=have.partition_by, primary_key=declared.contract.primary_key)
    lines = []
    if declared.is_mysql != live.table.is_mysql:
        lines.append(f"declared in {declared.store}, found in {live.table.store}")
    elif not declared.is_mysql and not declared.source and declared.format != live.table.format:
        lines.append(f"declared format {declared.format}, the live table is {live.table.format}")
    for change in contract_changes(declared.name, have, declared.contract):
        lines.append(_difference(change))
    return [f"{declared.name}: {line}" for line in lines]


def _difference(change) -> str:  # noqa: ANN001 - a contract_change.Change
    c = change
    return {
        "add_column": f"column {c.column} is declared ({c.new}) but the live table has no such column",
        "drop_column": f"the live table has column {c.old}, which is not declared",
        "rename_column": f"column {c.new} is declared where the live table has {c.old} (same type)",
        "widen_type": f"column {c.column}: declared {c.new}, live {c.old} (every live value fits)",
        "narrow_type": f"column {c.column}: declared {c.new}, live {c.old} (live values may not fit)",
        "change_type": f"column {c.column}: declared {c.new}, live {c.old}",
        "nullable_to_not_null": f"column {c.column}: declared NOT NULL, live nullable",
        "not_null_to_nullable": f"column {c.column}: declared nullable, live NOT NULL",
        "change_key": f"primary key: declared ({c.new}), live ({c.old})",
        "change_partitioning": f"partitioning: declared ({c.new}), live ({c.old})",
    }[c.kind]

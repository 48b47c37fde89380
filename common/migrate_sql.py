"""One legacy SparkSqlOperator task as a SqlJob: its output, the tables it reads, their contracts.

Spark decides what the SQL reads: the rendered query is parsed inside `EXPLAIN EXTENDED
SELECT * FROM (...)` (public API, runs nothing) and its `'UnresolvedRelation [db, t]` lines
are the tables. Contracts come from the metastore (lake tables) or MySQL's
information_schema; a table found in neither gets a placeholder contract `check` reports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from common.contracts import HIVE, RUN_DATE_COLUMNS, Column, Contract, Table, todo_contract
from common.errors import ConfigError
from common.job import Param
from common.live_schema import lake_format
from common.migrate_dag import LegacyTask, MigrationError, Skipped
from common.sql_job import as_subquery, explained, render_sql, run_query
from common.templates import TemplateError

if TYPE_CHECKING:
    from pathlib import Path

    from pyspark.sql import SparkSession


__all__ = ["ParsedTask", "parse_task", "output_contract", "rename_tables", "split_insert", "MIGRATE_DS"]

MIGRATE_DS = "2000-01-01"  # the ds templates render with while migrating (check's)
_LEAD = r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*"
_NAME = r"`?\w+`?(?:\s*\.\s*`?\w+`?)?"
_INSERT = re.compile(rf"^(?P<lead>{_LEAD})(?P<head>INSERT\s+(?P<mode>OVERWRITE|INTO)\s+(?:TABLE\s+)?"
                     rf"(?P<table>{_NAME})(?:\s*PARTITION\s*\((?P<spec>[^)]*)\))?(?:\s+IF\s+NOT\s+EXISTS)?)",
                     re.I | re.S)
_RELATION = re.compile(r"'UnresolvedRelation \[([^\]]*)\]")
_CTE = re.compile(r"\bCTE \[([^\]]*)\]")
_LINE = re.compile(r"\(line (\d+), pos (\d+)\)")
_TEMPLATE_AT = re.compile(r"^<sql>:(\d+): ")
_PARSED = "== Parsed Logical Plan =="
_PARAM = re.compile(r"\bparams\.(\w+)")


@dataclass
class ParsedTask:
    task: LegacyTask
    output: str  # db.table
    partition: dict[str, str | None]  # partition column -> the run-date template, or None (dynamic)
    select: str  # the SQL template without its INSERT, table names read as views
    reads: dict[str, str] = field(default_factory=dict)  # alias -> db.table
    params: tuple[Param, ...] = ()


def _where(task: LegacyTask, path: Path, line: int | None = None) -> str:
    if task.sql_file is None:
        return f"{path}:{task.sql_line + (line or 1) - 1}: task {task.task_id}"
    return f"{path}:{task.line}: task {task.task_id}: {task.sql_file}:{line or 1}"


def _render(task: LegacyTask, path: Path, template: str, params: dict[str, Any]) -> str:
    try:
        return render_sql(template, MIGRATE_DS, params, "<sql>")
    except TemplateError as exc:
        text = str(exc)
        found = _TEMPLATE_AT.match(text)
        line = int(found.group(1)) if found else None
        raise MigrationError(f"{_where(task, path, line)}: {_TEMPLATE_AT.sub('', text)}") from None


def _params(task: LegacyTask) -> tuple[Param, ...]:
    used = dict.fromkeys(_PARAM.findall(task.sql))
    kinds = (bool, int, float, str)
    return tuple(Param(n, next(k for k in kinds if isinstance(task.params[n], k)), task.params[n])
                 for n in used if n in task.params and isinstance(task.params[n], kinds))


def split_insert(task: LegacyTask) -> tuple[str, str, str] | Skipped:
    """(table, partition spec, the SQL without its INSERT) or why the task stays as it is."""
    found = _INSERT.match(task.sql)
    if found is None:
        return Skipped(task.task_id, task.line, "its SQL writes no table (no INSERT OVERWRITE TABLE ... first)")
    if found.group("mode").upper() == "INTO":
        return Skipped(task.task_id, task.line, "INSERT INTO appends, a job overwrites its run's partition: "
                                                "convert it by hand")
    table = re.sub(r"[`\s]", "", found.group("table")).lower()
    # The INSERT stays as a comment, line for line, so errors name the same lines.
    head = f"/* was: {found.group('head').replace('*/', '* /')} (the job's output) */"
    return table if "." in table else f"default.{table}", found.group("spec") or "", \
        found.group("lead") + head + task.sql[found.end():]


def _partition(task: LegacyTask, spec: str, params: dict[str, Any], path: Path) -> dict[str, str | None] | str:
    out: dict[str, str | None] = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name, _, value = (part.strip() for part in item.partition("="))
        if not value:
            out[name.lower()] = None
            continue
        rendered = _render(task, path, value, params).strip("'\"")
        wanted = {"ds": MIGRATE_DS, "dt": MIGRATE_DS.replace("-", "")}.get(name.lower())
        if rendered != wanted:
            return f"partition ({item}) is not the run's date (ds='{{{{ ds }}}}' or dt='{{{{ ds_nodash }}}}')"
        out[name.lower()] = value
    return out


def _explain(spark: SparkSession, task: LegacyTask, path: Path, sql: str) -> str:
    from pyspark.errors.exceptions.captured import ParseException

    try:
        text = explained(spark, as_subquery(sql))
    except ParseException as exc:
        first = str(exc).strip().splitlines()[0]
        found = _LINE.search(first)
        line = int(found.group(1)) - 1 if found else None
        raise MigrationError(f"{_where(task, path, line)}: Spark cannot parse the SQL as one query: {first}") from None
    if _PARSED not in text:
        raise _unplanned(spark, task, path, text)
    return text.split("== Analyzed Logical Plan ==", 1)[0]


def _unplanned(spark: SparkSession, task: LegacyTask, path: Path, text: str) -> MigrationError:
    """Why EXPLAIN printed no plan at all. An unqualified table name is looked up in the current
    database before anything is printed, and when the metastore does not answer Spark's message
    is empty: a catalog call of ours gets the real error."""
    from common.io.warehouse import metastore_unreachable

    try:
        spark.catalog.databaseExists("default")
    except Exception as exc:  # noqa: BLE001 - named below when it is the metastore
        down = metastore_unreachable(exc, outcome="nothing was written")
        if down is not None:
            return MigrationError(f"{_where(task, path)}: {down}")
    reason = text.split(":", 1)[-1].strip() or "Spark gave no reason"
    return MigrationError(f"{_where(task, path)}: Spark cannot plan the SQL: {reason}")


def _relations(plan: str) -> tuple[list[tuple[str, ...]], set[str]]:
    ctes = {name.strip().lower() for found in _CTE.findall(plan) for name in found.split(",")}
    names = [tuple(p.strip().strip("`").lower() for p in found.split(",")) for found in _RELATION.findall(plan)]
    return list(dict.fromkeys(n for n in names if not (len(n) == 1 and n[0] in ctes))), ctes


def _aliases(names: list[tuple[str, ...]], ctes: set[str]) -> dict[str, str]:
    """db.table -> the view name the SQL reads it as: the table's name unless that is taken."""
    aliases: dict[str, str] = {}
    for parts in names:
        table = ".".join(parts) if len(parts) == 2 else f"default.{parts[0]}"
        short = parts[-1]
        taken = short in ctes or short in aliases.values()
        aliases[table] = f"{parts[0]}_{short}" if taken else short
    return aliases


def rename_tables(select: str, aliases: dict[str, str]) -> str:
    """`select` with each `db.table` of `aliases` (any quoting and spacing) renamed to its value."""
    for table, alias in aliases.items():
        db, name = table.split(".")
        pattern = rf"(?<![\w.`])`?{re.escape(db)}`?\s*\.\s*`?{re.escape(name)}`?(?![\w`])"
        select = re.sub(pattern, alias, select, flags=re.I)
    return select


def parse_task(spark: SparkSession, task: LegacyTask, path: Path) -> ParsedTask | Skipped:
    """The task's output, partition, SQL and the tables it reads; or why it is left alone."""
    split = split_insert(task)
    if isinstance(split, Skipped):
        return split
    output, spec, select = split
    params = dict(task.params)
    partition = _partition(task, spec, params, path)
    if isinstance(partition, str):
        return Skipped(task.task_id, task.line, partition)
    names, ctes = _relations(_explain(spark, task, path, _render(task, path, select, params)))
    deep = [".".join(n) for n in names if len(n) > 2]
    if deep:
        return Skipped(task.task_id, task.line, f"reads {deep[0]} through a catalog: name it db.table")
    aliases = _aliases(names, ctes)
    rewritten = rename_tables(select, aliases)
    again, _ = _relations(_explain(spark, task, path, _render(task, path, rewritten, params)))
    if {n[0] for n in again if len(n) == 1} != set(aliases.values()) or any(len(n) > 1 for n in again):
        raise MigrationError(f"{_where(task, path)}: cannot rename the tables it reads to views "
                             f"({', '.join(aliases)}): a name sits inside a string or a comment")
    return ParsedTask(task, output, partition, rewritten, {a: t for t, a in aliases.items()}, _params(task))


def _existing_format(spark: SparkSession, name: str) -> str | None:
    """HIVE for an existing non-Iceberg table (it keeps its format), else None (the default)."""
    try:
        if not spark.catalog.tableExists(name):
            return None
        return HIVE if lake_format(spark, name) == HIVE else None
    except Exception:  # noqa: BLE001 - an unreachable metastore: the default format
        return None


def output_contract(spark: SparkSession, parsed: ParsedTask, inputs: dict[str, Table]) -> Table:
    """The output table: the query analysed against empty inputs, plus its partition columns."""
    kwargs = {"format": fmt} if (fmt := _existing_format(spark, parsed.output)) else {}
    todo = [t.name for t in inputs.values() if t.contract.todo]
    if todo:
        return Table(parsed.output, todo_contract(f"input {todo[0]} has no contract yet"), **kwargs)
    params = {p.name: p.default for p in parsed.params}
    sql = render_sql(parsed.select, MIGRATE_DS, params)
    ansi = spark.conf.get("spark.sql.ansi.enabled")
    spark.conf.set("spark.sql.ansi.enabled", "true")  # as check analyses it
    try:
        for alias, table in inputs.items():
            table.contract.empty_frame(spark).createOrReplaceTempView(alias)
        schema = run_query(spark, sql, parsed.task.task_id).schema
    except ConfigError as exc:
        return Table(parsed.output, todo_contract(str(exc)[:300]), **kwargs)
    except Exception as exc:  # noqa: BLE001 - the analyzer's reason goes into the placeholder
        return Table(parsed.output, todo_contract(f"the query does not analyse: {str(exc).splitlines()[0][:300]}"),
                     **kwargs)
    finally:
        spark.conf.set("spark.sql.ansi.enabled", ansi)
        for alias in inputs:
            spark.catalog.dropTempView(alias)
    run_date = [c for c in parsed.partition if c in RUN_DATE_COLUMNS]
    columns = [Column(f.name, f.dataType.simpleString(), f.nullable) for f in schema if f.name not in run_date]
    columns += [Column(c, "string", nullable=False) for c in run_date]
    return Table(parsed.output, Contract(tuple(columns), partition_by=tuple(parsed.partition)), **kwargs)

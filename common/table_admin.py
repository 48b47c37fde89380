"""Administering warehouse tables: their versions, rollback, retention, and schema migrations.

Each command takes a table's logical name as jobs declare it ("tpch_reports.q01") and finds
its Table (contract, format, retention) through the job that writes it; the environment maps
it to the physical table (a qa branch's own copy with `--env qa --branch B`) and refuses a qa
change to production. A schema migration compares the existing table with the contract in
code (`common/contract_change.py` classifies each change) and applies only what the format
evolves in place: Iceberg adds, widens, renames and drops columns in its metadata; a Hive
parquet table only adds columns (anything else needs its data rewritten).
"""

from __future__ import annotations

import difflib
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Iterable

from common.contract_change import Change, contract_changes
from common.contracts import HIVE, ICEBERG, RUN_DATE_COLUMNS, WAREHOUSE, Column, Contract, Table
from common.environments import Environment
from common.errors import MigrationRefused, ParamError, SourceError
from common.io.iceberg import IcebergFormat
from common.io.table_format import TableFormat, Version, contract_properties, format_for, properties_sql, provider

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = [
    "Migration", "Rollback", "Target", "apply_migration", "existing_contract", "history", "history_json", "plan_migration",
    "readers_of", "render_history", "resolve", "rollback", "vacuum", "warehouse_outputs",
]

log = logging.getLogger(__name__)
# Type changes Iceberg makes in its metadata alone (its schema evolution's promotions).
_ICEBERG_PROMOTIONS = {("int", "bigint"), ("float", "double")}
_COLUMN_KINDS = {"drop_column", "rename_column", "widen_type", "narrow_type", "change_type",
                 "nullable_to_not_null", "not_null_to_nullable"}
_ALIASES = {"integer": "int", "long": "bigint", "real": "float"}
_DECIMAL = re.compile(r"^decimal\((?P<p>\d+),(?P<s>\d+)\)$")


def warehouse_outputs() -> dict[str, tuple[str, Table]]:
    """Every warehouse table a job writes: logical name -> (the job, its Table)."""
    from common.registry import discover

    found: dict[str, tuple[str, Table]] = {}
    for job_name, job in discover().items():
        for table in job.outputs.values():
            if table.store == WAREHOUSE:
                found.setdefault(table.name, (job_name, table))
    return dict(sorted(found.items()))


def readers_of(name: str) -> dict[str, Table]:
    """The jobs that read table `name`: job -> the Table (its columns) they declare as input."""
    from common.registry import discover

    return {job_name: t for job_name, job in discover().items() for t in job.inputs.values() if t.name == name}


@dataclass(frozen=True)
class Target:
    """One table to administer: its contract in code, where it lives in the environment."""

    table: Table
    physical: str
    env: Environment
    writer: str  # the job that writes it

    @property
    def fmt(self) -> TableFormat:
        return format_for(self.table.format)

    @property
    def command(self) -> str:
        """The table as the commands take it, with the environment's flags."""
        flags = f" --env qa --branch {self.env.branch}" if self.env.name == "qa" else ""
        return f"{self.table.name}{flags}"

    @property
    def run_date_column(self) -> str | None:
        dates = self.table.contract.run_date_columns
        return dates[0] if dates else None


def resolve(name: str, env: Environment) -> Target:
    """The Target of logical table `name`, or a ParamError naming the closest known tables."""
    outputs = warehouse_outputs()
    if name not in outputs:
        close = difflib.get_close_matches(name, list(outputs), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `pyspark-jobs list` shows each job's outputs"
        raise ParamError(f"no job writes a warehouse table {name!r}{hint}")
    job_name, table = outputs[name]
    return Target(table, env.output_name(table), env, job_name)


def _existing(spark: SparkSession, target: Target) -> None:
    from common.io.warehouse import table_exists

    if not table_exists(spark, target.physical):
        raise SourceError(f"table {target.physical} does not exist: the first run of {target.writer} creates it")
    spark.catalog.refreshTable(target.physical)  # other processes write it: no cached listing


def _check_ds(target: Target, ds: str | None, *, required: bool) -> None:
    from common.job import parse_ds

    if ds is not None:
        parse_ds(ds)
        if target.run_date_column is None:
            raise ParamError(f"{target.table.name} is not partitioned by a run date: leave out --ds")
    elif required and target.run_date_column:
        raise ParamError(f"{target.table.name} is partitioned by {target.run_date_column}: give --ds YYYY-MM-DD")


# -- history and rollback ---------------------------------------------------------------------


def _dates(spark: SparkSession, target: Target) -> list[str]:
    """The run dates the table holds, as ds (YYYY-MM-DD): a partition-column scan."""
    column = target.run_date_column
    values = [r[0] for r in spark.table(target.physical).select(column).distinct().collect() if r[0] is not None]
    return sorted(datetime.strptime(v, RUN_DATE_COLUMNS[column]).date().isoformat() for v in values)


def history(spark: SparkSession, target: Target, ds: str | None) -> list[tuple[str | None, Version]]:
    """The versions of date `ds` (of every date the table holds, without it), oldest first per date."""
    _check_ds(target, ds, required=False)
    _existing(spark, target)
    dates = [ds] if ds or not target.run_date_column else _dates(spark, target)
    return [(day, v) for day in dates for v in target.fmt.history(spark, target.table, target.physical, day)]


def render_history(target: Target, versions: list[tuple[str | None, Version]]) -> str:
    """The versions as a terminal table; `*` marks the one readers see."""
    if not versions:
        return f"{target.physical}: no versions"
    dated = target.run_date_column is not None
    header = (["DS"] if dated else []) + ["VERSION", "RUN ID", "WRITTEN AT (UTC)", "ROWS", "CURRENT", "DETAIL"]
    rows = [header]
    for day, v in versions:
        written = v.written_at.strftime("%Y-%m-%d %H:%M:%S") if v.written_at else "-"
        detail = ", ".join(f"{k}: {val}" for k, val in v.detail.items() if k != "location")
        rows.append(([day or "-"] if dated else []) + [v.version, v.run_id or "-", written,
                                                       "-" if v.rows is None else str(v.rows), "*" if v.current else "",
                                                       detail])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows)


def history_json(target: Target, versions: list[tuple[str | None, Version]]) -> str:
    return json.dumps({"table": target.table.name, "physical": target.physical, "format": target.table.format,
                       "versions": [{"ds": day, "version": v.version, "run_id": v.run_id,
                                     "written_at": v.written_at.isoformat() if v.written_at else None,
                                     "rows": v.rows, "current": v.current, "detail": v.detail}
                                    for day, v in versions]}, indent=2)


@dataclass(frozen=True)
class Rollback:
    previous: Version | None  # what readers saw before
    restored: Version  # the version asked for
    current: Version  # what readers see now: `restored` (hive), or a new snapshot of its rows (iceberg)

    @property
    def changed(self) -> bool:
        return self.previous is None or self.previous.version != self.restored.version


def rollback(spark: SparkSession, target: Target, ds: str | None, version: str) -> Rollback:
    """Point date `ds` (the whole table without it) back at `version`; an unknown or expired version
    is refused before anything changes."""
    _check_ds(target, ds, required=True)
    target.env.check_write(target.physical)
    _existing(spark, target)
    fmt, table, physical = target.fmt, target.table, target.physical
    known = {v.version: v for v in fmt.history(spark, table, physical, ds)}
    where = f" --ds {ds}" if ds else ""
    if version not in known:
        raise SourceError(
            f"{physical}{where.replace(' --ds ', ' ds=')} has no version {version} (never written, or expired after its "
            f"{table.retention_days:g}-day retention); `pyspark-jobs history {target.command}{where}` lists them"
        )
    previous = next((v for v in known.values() if v.current), None)
    if previous is not None and previous.version == version:
        return Rollback(previous, previous, previous)
    return Rollback(previous, known[version], fmt.rollback(spark, table, physical, ds, version))


# -- retention --------------------------------------------------------------------------------


def vacuum(spark: SparkSession, targets: Iterable[Target], *, dry_run: bool) -> list[tuple[Target, list[str]]]:
    """Each existing table's versions past its retention, and the files no version holds (a
    killed run's), removed (with `dry_run`, only listed)."""
    from common.io import hive
    from common.io.warehouse import table_exists

    done = []
    for target in targets:
        if not table_exists(spark, target.physical):
            continue
        if not dry_run:
            target.env.check_write(target.physical)
        spark.catalog.refreshTable(target.physical)
        now = hive.wall_clock()
        removed = target.fmt.expire(spark, target.table, target.physical, now, dry_run=dry_run)
        removed += target.fmt.remove_orphans(spark, target.table, target.physical, now, dry_run=dry_run)
        done.append((target, removed))
    return done


# -- schema migration -------------------------------------------------------------------------


def existing_contract(spark: SparkSession, physical: str, contract: Contract) -> Contract:
    """The contract an existing table holds: its columns, types and partition columns.

    Neither format stores the rest: NOT NULL is the contract's check on every write (the
    columns of both formats are nullable), so nullability and the key are taken from
    `contract` and never show as changes."""
    listed = spark.catalog.listColumns(physical)
    own = {c.name: c for c in contract.columns}
    columns = tuple(Column(c.name, c.dataType, own[c.name].nullable if c.name in own else True) for c in listed)
    names = {c.name for c in columns}
    key = contract.primary_key if set(contract.primary_key) <= names else ()
    return Contract(columns, partition_by=tuple(c.name for c in listed if c.isPartition), primary_key=key)


@dataclass(frozen=True)
class Migration:
    """The changes from the existing table to its contract, each with the jobs it affects."""

    target: Target
    changes: tuple[Change, ...]
    readers: tuple[tuple[str, ...], ...]  # per change: the downstream jobs that read what it changes
    statements: tuple[str | None, ...]  # per change: the DDL applying it; None: it needs a rewrite

    @property
    def breaking(self) -> bool:
        return any(c.breaking for c in self.changes)

    def lines(self) -> list[str]:
        out = []
        for change, readers, statement in zip(self.changes, self.readers, self.statements):
            read = f"read by {', '.join(readers)}" if readers else "no job reads it"
            rewrite = "" if statement is not None else f"; {self.target.table.format}: needs a rewrite"
            out.append(f"{'BREAKING' if change.breaking else 'safe':<8} {change.describe()}; {read}{rewrite}")
        return out


def _readers(name: str, change: Change) -> tuple[str, ...]:
    """The jobs reading what a change affects, as `check --against` names them (common/against.py):
    those declaring the column for a column's change, every reader of the table otherwise."""
    readers = readers_of(name)
    if change.kind not in _COLUMN_KINDS:
        return tuple(readers)
    wanted = {change.column, change.old if change.kind == "rename_column" else None}
    return tuple(job for job, t in readers.items() if wanted & set(t.contract.names))


def _iceberg_promotes(old: str, new: str) -> bool:
    """Whether Iceberg widens `old` to `new` in its metadata: int -> bigint, float -> double, decimal precision."""
    old, new = (_ALIASES.get(t, t) for t in (re.sub(r"\s+", "", old.lower()), re.sub(r"\s+", "", new.lower())))
    narrow, wide = _DECIMAL.fullmatch(old), _DECIMAL.fullmatch(new)
    if narrow and wide:  # the scale stays
        return narrow["s"] == wide["s"] and int(wide["p"]) >= int(narrow["p"])
    return (old, new) in _ICEBERG_PROMOTIONS


def _statement(target: Target, change: Change, contract: Contract) -> str | None:
    """The DDL applying one change in place, or None when the format needs the data rewritten."""
    physical, fmt = target.physical, target.table.format
    if change.kind == "change_format":
        return IcebergFormat.convert_sql(target.table, physical)
    if change.kind == "add_column":
        column = contract.column(change.column)
        if fmt == HIVE:
            return f"ALTER TABLE {physical} ADD COLUMNS (`{column.name}` {column.type})"
        at = contract.names.index(column.name)
        position = f" AFTER `{contract.names[at - 1]}`" if at else " FIRST"
        return f"ALTER TABLE {physical} ADD COLUMN `{column.name}` {column.type}{position}"
    if change.kind in ("not_null_to_nullable", "nullable_to_not_null"):
        return ""  # the contract's check on each write; the table's columns are nullable
    if fmt != ICEBERG:
        return None
    if change.kind == "widen_type" and _iceberg_promotes(change.old, change.new):
        return f"ALTER TABLE {physical} ALTER COLUMN `{change.column}` TYPE {change.new}"
    if change.kind == "rename_column":
        return f"ALTER TABLE {physical} RENAME COLUMN `{change.old}` TO `{change.new}`"
    if change.kind == "drop_column":
        return f"ALTER TABLE {physical} DROP COLUMN `{change.column}`"
    return None


def _format_change(spark: SparkSession, target: Target) -> list[Change]:
    """A Hive-style table whose contract now declares Iceberg is converted; nothing else is."""
    stored, declared = provider(spark, target.physical), target.table.format
    if stored == declared:
        return []
    if (stored, declared) != (HIVE, ICEBERG):
        raise MigrationRefused(f"{target.physical} is an {stored} table and its contract declares format {declared!r}: "
                               f"only hive tables convert (to iceberg); declare format={stored!r}, or write a new table")
    return [Change(target.table.name, "change_format", None, stored, declared, breaking=False)]


def plan_migration(spark: SparkSession, target: Target) -> Migration:
    """What migrating the existing table to its contract changes; a MigrationRefused when nothing.
    A format conversion comes first: the column changes after it are the new format's."""
    _existing(spark, target)
    contract = target.table.contract
    old = existing_contract(spark, target.physical, contract)
    changes = tuple(_format_change(spark, target)) + tuple(
        c for c in contract_changes(target.table.name, old, contract) if c.kind != "change_key")
    if not changes:
        raise MigrationRefused(f"{target.physical} matches its contract; nothing to migrate")
    return Migration(
        target, changes,
        tuple(_readers(target.table.name, c) for c in changes),
        tuple(_statement(target, c, contract) for c in changes),
    )


def apply_migration(spark: SparkSession, migration: Migration, *, allow_breaking: bool) -> list[str]:
    """Apply every change of the plan, or none: refused when one needs a rewrite, or is breaking and not allowed."""
    target = migration.target
    target.env.check_write(target.physical)
    rewrite = [c for c, s in zip(migration.changes, migration.statements) if s is None]
    if rewrite:
        raise MigrationRefused(
            f"{target.physical} is a {target.table.format} table: "
            + "; ".join(c.describe().split(": ", 1)[1] for c in rewrite)
            + " needs its data rewritten (drop the table and rerun its dates, or write a new table); nothing changed"
        )
    if migration.breaking and not allow_breaking:
        breaking = [c.describe().split(": ", 1)[1] for c in migration.changes if c.breaking]
        raise MigrationRefused(
            f"{target.physical}: breaking change(s) refused: {'; '.join(breaking)}; update the readers, then rerun "
            f"`pyspark-jobs migrate-table {target.command} --apply --allow-breaking`; nothing changed"
        )
    applied = []
    for statement in migration.statements:
        if statement:
            log.info("%s", statement)
            spark.sql(statement)
            spark.catalog.refreshTable(target.physical)  # a conversion changes what the name resolves to
            applied.append(statement)
    # The contract's key and NOT NULL columns, which `contracts import` reads back.
    spark.sql(f"ALTER TABLE {target.physical} SET TBLPROPERTIES "
              f"({properties_sql(contract_properties(target.table.contract))})")
    spark.catalog.refreshTable(target.physical)
    return applied

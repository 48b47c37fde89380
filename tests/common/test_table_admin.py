"""`pyspark-jobs history`, `rollback`, `vacuum` and `migrate-table` on real tables of both formats."""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlparse

import pytest

from common.cli import main
from common.contracts import Column, Contract, Table
from common.environments import Environment
from common.errors import ContractViolation
from common.io import warehouse
from common.io.warehouse import WarehouseWriter
from common.job import Job, RunParams
from tests.helpers import assert_frame_equal, drop_qa_databases, frame

FORMATS = ("hive", "iceberg")
DS1, DS2 = "2024-01-01", "2024-01-02"
A, B, C = "aaaaaaaaaaaa", "bbbbbbbbbbbb", "cccccccccccc"  # run ids
ROWS = "id int, amount int"


def _sales(db: str, fmt: str, *extra: Column, amount: str = "int", retention: float = 3.0) -> Table:
    columns = (Column("id", "int", nullable=False), Column("amount", amount), *extra, Column("ds", "string", nullable=False))
    return Table(f"{db}.sales", Contract(columns, partition_by=("ds",), primary_key=("id",)), format=fmt,
                 retention_days=retention)


@pytest.fixture
def jobs():
    """Declares which job writes (and which reads) a table, as the registry the commands search."""
    added: dict[str, str] = {}

    def declare(table: Table, *, reads: tuple[str, ...] = ()) -> None:
        Job.registry.pop(added.pop(table.name, ""), None)  # the table's contract, as now in code
        name = f"tests.admin_{uuid.uuid4().hex[:8]}"
        type(name, (Job,), {"name": name, "outputs": {"out": table}, "steps": lambda self, p: {}})
        added[table.name] = name
        if reads:
            source = Table(table.name, Contract(tuple(Column(c, table.contract.column(c).type) for c in reads)))
            downstream = Table(f"{table.database}.downstream", Contract((Column("n", "bigint"),)))
            reader = f"tests.admin_reader_{uuid.uuid4().hex[:8]}"
            type(reader, (Job,), {"name": reader, "inputs": {"src": source}, "outputs": {"out": downstream},
                                  "steps": lambda self, p: {}})
            added[downstream.name] = reader

    yield declare
    for name in added.values():
        Job.registry.pop(name, None)


@pytest.fixture
def run_ids(monkeypatch):
    """The writer's next run ids, so that a test knows them."""

    def use(*ids: str) -> None:
        queue = iter(ids)
        monkeypatch.setattr(warehouse, "uuid", SimpleNamespace(uuid4=lambda: SimpleNamespace(hex=next(queue))))

    return use


def _write(spark, table: Table, ds: str, rows: list[tuple], schema: str = ROWS, env: str = "local") -> None:
    env_ = Environment("qa", "pj-admin-test") if env == "qa" else Environment("local")
    WarehouseWriter(env=env_).write(frame(spark, schema, rows), table, RunParams(ds))


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _history(capsys, name: str, *args: str) -> list[dict]:
    code, out, _ = _cli(capsys, "history", name, "--json", *args)
    assert code == 0
    return json.loads(out)["versions"]


def _rows(spark, physical: str):
    spark.catalog.refreshTable(physical)
    return spark.table(physical)


@pytest.mark.parametrize("fmt", FORMATS)
def test_history_lists_the_versions_with_run_ids_and_row_counts(spark, scratch_db, jobs, run_ids, capsys, fmt):
    table = _sales(scratch_db, fmt)
    jobs(table)
    run_ids(A, B, C)
    _write(spark, table, DS1, [(1, 10), (2, 20)])
    _write(spark, table, DS1, [(3, 30)])
    _write(spark, table, DS2, [(4, 40), (5, 50), (6, 60)])

    versions = _history(capsys, table.name, "--ds", DS1)
    assert [(v["run_id"], v["rows"], v["current"]) for v in versions] == [(A, 2, False), (B, 1, True)]

    code, out, _ = _cli(capsys, "history", table.name)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["DS", "VERSION", "RUN", "ID"]
    by_run = {run: next(line.split() for line in lines if run in line) for run in (A, B, C)}
    assert by_run[A][0] == DS1 and "*" not in by_run[A]
    assert by_run[B][0] == DS1 and "*" in by_run[B]
    assert by_run[C][0] == DS2 and "*" in by_run[C] and "3" in by_run[C]


@pytest.mark.parametrize("fmt", FORMATS)
def test_rollback_returns_exactly_the_previous_rows(spark, scratch_db, jobs, run_ids, capsys, fmt):
    table = _sales(scratch_db, fmt)
    jobs(table)
    run_ids(A, B, C)
    _write(spark, table, DS1, [(1, 10), (2, 20)])
    _write(spark, table, DS1, [(3, 30)])
    _write(spark, table, DS2, [(4, 40)])
    (first,) = [v["version"] for v in _history(capsys, table.name, "--ds", DS1) if v["run_id"] == A]

    code, out, _ = _cli(capsys, "rollback", table.name, "--ds", DS1, "--to", first)

    assert code == 0
    assert f"restored version {first}" in out and f": run {A}, 2 rows; replaced version " in out
    assert_frame_equal(_rows(spark, table.name), [(1, 10, DS1), (2, 20, DS1), (4, 40, DS2)])
    (current,) = [v for v in _history(capsys, table.name, "--ds", DS1) if v["current"]]
    assert current["rows"] == 2  # hive: run A's directory again; iceberg: a new snapshot of its rows


@pytest.mark.parametrize("fmt", FORMATS)
def test_rollback_to_an_unknown_or_expired_version_changes_nothing_and_vacuum_expires(
    spark, scratch_db, jobs, run_ids, capsys, fmt
):
    table = _sales(scratch_db, fmt, retention=0)
    jobs(table)  # in code: no retention; the versions below were written with 3 days
    run_ids(A, B)
    _write(spark, replace(table, retention_days=3), DS1, [(1, 10), (2, 20)])
    _write(spark, replace(table, retention_days=3), DS1, [(3, 30)])
    (first,) = [v["version"] for v in _history(capsys, table.name, "--ds", DS1) if v["run_id"] == A]

    code, _, err = _cli(capsys, "rollback", table.name, "--ds", DS1, "--to", "404")
    assert code == 2
    assert err.strip().startswith(f"error: {table.name} ds={DS1} has no version 404") and len(err.strip().splitlines()) == 1

    code, out, _ = _cli(capsys, "vacuum", table.name, "--dry-run")
    assert code == 0 and "would remove" in out
    assert len(_history(capsys, table.name, "--ds", DS1)) == 2

    code, out, _ = _cli(capsys, "vacuum", table.name)
    assert code == 0 and out.startswith("removed ")
    assert [v["run_id"] for v in _history(capsys, table.name, "--ds", DS1)] == [B]

    code, _, err = _cli(capsys, "rollback", table.name, "--ds", DS1, "--to", first)
    assert code == 2
    assert f"has no version {first} (never written, or expired" in err
    assert_frame_equal(_rows(spark, table.name), [(3, 30, DS1)])


def test_vacuum_removes_the_files_a_killed_iceberg_run_left_once_no_write_can_still_commit_them(
    spark, scratch_db, jobs, run_ids, capsys
):
    """A killed run leaves data files no snapshot references. Vacuum deletes those written
    before the retention period, and never one younger than a day (a write in progress): here
    the retention is 0, and a file written an hour ago stays."""
    table = _sales(scratch_db, "iceberg", retention=0)
    jobs(table)
    run_ids(A)
    _write(spark, table, DS1, [(1, 10), (2, 20)])
    (data,) = [Path(urlparse(r.file_path).path) for r in spark.sql(f"SELECT file_path FROM {table.name}.files").collect()]
    now = time.time()
    killed, writing = data.with_name("killed-run.parquet"), data.with_name("still-writing.parquet")
    for orphan, age_s in ((killed, 2 * 86400), (writing, 3600)):
        shutil.copyfile(data, orphan)
        os.utime(orphan, (now - age_s, now - age_s))

    code, out, _ = _cli(capsys, "vacuum", table.name, "--dry-run")
    assert code == 0 and out.splitlines() == [f"would remove {table.name}: orphan file file:{killed}"]
    assert killed.exists() and writing.exists()

    code, out, _ = _cli(capsys, "vacuum", table.name)
    assert code == 0 and out.splitlines() == [f"removed {table.name}: orphan file file:{killed}"]
    assert not killed.exists() and writing.exists() and data.exists()
    assert_frame_equal(_rows(spark, table.name), [(1, 10, DS1), (2, 20, DS1)])
    assert [v["run_id"] for v in _history(capsys, table.name, "--ds", DS1)] == [A]


def test_iceberg_add_column_and_widen_type_on_a_table_with_data(spark, scratch_db, jobs, capsys):
    old = _sales(scratch_db, "iceberg")
    _write(spark, old, DS1, [(1, 10), (2, 20)])
    new = _sales(scratch_db, "iceberg", Column("note", "string"), amount="bigint")
    jobs(new, reads=("id", "amount"))

    with pytest.raises(ContractViolation, match=f"`pyspark-jobs migrate-table {new.name}`"):
        _write(spark, new, DS2, [(3, 2**40, "x")], "id int, amount bigint, note string")

    code, out, _ = _cli(capsys, "migrate-table", new.name)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"safe     {new.name}: column amount widened from int to bigint; read by tests.admin_reader_")
    assert lines[1].startswith(f"safe     {new.name}: new column note string")
    assert _rows(spark, new.name).schema.simpleString() == "struct<id:int,amount:int,ds:string>"  # only the plan

    code, out, _ = _cli(capsys, "migrate-table", new.name, "--apply")
    assert code == 0 and out.count("applied: ALTER TABLE") == 2
    assert _rows(spark, new.name).schema.simpleString() == "struct<id:int,amount:bigint,note:string,ds:string>"
    assert_frame_equal(_rows(spark, new.name), [(1, 10, None, DS1), (2, 20, None, DS1)])

    _write(spark, new, DS2, [(3, 2**40, "x")], "id int, amount bigint, note string")
    assert_frame_equal(_rows(spark, new.name), [(1, 10, None, DS1), (2, 20, None, DS1), (3, 2**40, "x", DS2)])

    code, _, err = _cli(capsys, "migrate-table", new.name)
    assert code == 2
    assert err.strip() == f"error: {new.name} matches its contract; nothing to migrate"


def test_hive_adds_a_column_and_refuses_a_widening_that_needs_a_rewrite(spark, scratch_db, jobs, capsys):
    old = _sales(scratch_db, "hive")
    _write(spark, old, DS1, [(1, 10)])
    added = _sales(scratch_db, "hive", Column("note", "string"))
    jobs(added)

    assert _cli(capsys, "migrate-table", added.name, "--apply")[0] == 0
    assert_frame_equal(_rows(spark, added.name), [(1, 10, None, DS1)])
    _write(spark, added, DS2, [(2, 20, "x")], "id int, amount int, note string")
    assert_frame_equal(_rows(spark, added.name), [(1, 10, None, DS1), (2, 20, "x", DS2)])

    widened = _sales(scratch_db, "hive", Column("note", "string"), amount="bigint")
    jobs(widened)
    code, out, _ = _cli(capsys, "migrate-table", widened.name)
    assert code == 0 and "widened from int to bigint" in out and "hive: needs a rewrite" in out
    code, _, err = _cli(capsys, "migrate-table", widened.name, "--apply")
    assert code == 2
    assert "needs its data rewritten" in err and len(err.strip().splitlines()) == 1
    assert _rows(spark, widened.name).schema["amount"].dataType.simpleString() == "int"


def test_a_breaking_change_is_refused_without_allow_breaking(spark, scratch_db, jobs, capsys):
    old = _sales(scratch_db, "iceberg", Column("note", "string"))
    _write(spark, old, DS1, [(1, 10, "x")], "id int, amount int, note string")
    new = _sales(scratch_db, "iceberg")
    jobs(new)
    reader = Table(new.name, Contract((Column("id", "int"), Column("note", "string"))))
    name = f"tests.admin_reader_{uuid.uuid4().hex[:8]}"
    type(name, (Job,), {"name": name, "inputs": {"src": reader},
                        "outputs": {"out": Table(f"{scratch_db}.report", Contract((Column("n", "bigint"),)))},
                        "steps": lambda self, p: {}})
    try:
        code, out, _ = _cli(capsys, "migrate-table", new.name)
        assert code == 1
        assert out.strip() == f"BREAKING {new.name}: column note string removed: its readers fail; read by {name}"

        code, _, err = _cli(capsys, "migrate-table", new.name, "--apply")
        assert code == 2 and "--allow-breaking" in err and len(err.strip().splitlines()) == 1
        assert "note" in _rows(spark, new.name).columns

        assert _cli(capsys, "migrate-table", new.name, "--apply", "--allow-breaking")[0] == 0
        assert_frame_equal(_rows(spark, new.name), [(1, 10, DS1)])
    finally:
        Job.registry.pop(name, None)


def test_qa_migrates_only_the_branchs_copy(spark, scratch_db, jobs, capsys):
    old = _sales(scratch_db, "iceberg")
    branch = "pj-admin-test"
    qa = Environment("qa", branch).output_name(old)
    try:
        _write(spark, old, DS1, [(1, 10)])
        _write(spark, old, DS1, [(1, 10)], env="qa")
        new = _sales(scratch_db, "iceberg", Column("note", "string"))
        jobs(new)

        code, out, _ = _cli(capsys, "migrate-table", new.name, "--env", "qa", "--branch", branch, "--apply")

        assert code == 0 and f"ALTER TABLE {qa} ADD COLUMN" in out
        assert "note" in _rows(spark, qa).columns
        assert "note" not in _rows(spark, new.name).columns
    finally:
        drop_qa_databases(spark, branch)


def test_an_iceberg_table_whose_contract_says_hive_is_not_converted(spark, scratch_db, jobs, capsys):
    _write(spark, _sales(scratch_db, "iceberg"), DS1, [(1, 10)])
    hive = _sales(scratch_db, "hive")
    jobs(hive)
    code, _, err = _cli(capsys, "migrate-table", hive.name, "--apply")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert (f"{hive.name} is an iceberg table and its contract declares format 'hive': only hive tables convert "
            "(to iceberg); declare format='iceberg', or write a new table") in err
    assert_frame_equal(_rows(spark, hive.name), [(1, 10, DS1)])

"""Warehouse writes: partition overwrite, contract enforcement, qa isolation, source drift."""

from __future__ import annotations

import logging
import os
from urllib.parse import urlparse

import pytest

from common.contracts import Column, Contract, Table
from common.environments import Environment
from common.errors import ContractViolation, QaIsolationError, SourceError
from common.io.warehouse import WarehouseReader, WarehouseWriter
from common.job import RunParams
from tests.conftest import ROOT
from tests.helpers import assert_frame_equal, frame

SCHEMA = "id int, name string, amount double"


def _sales(db: str) -> Table:
    return Table(
        f"{db}.sales",
        Contract(
            (
                Column("id", "int", nullable=False),
                Column("name", "string"),
                Column("amount", "double"),
                Column("ds", "string", nullable=False),
            ),
            partition_by=("ds",),
            primary_key=("id",),
        ),
    )


def _run_dirs(spark, physical: str) -> list[str]:
    root = spark.sql(f"DESCRIBE TABLE EXTENDED {physical}").filter("col_name = 'Location'").first()[1]
    found = []
    for _, dirnames, _ in os.walk(urlparse(root).path):
        found += [d for d in dirnames if d.startswith("run=")]
    return found


def test_rerun_replaces_exactly_its_partition(spark, scratch_db):
    table, writer = _sales(scratch_db), WarehouseWriter(env=Environment("local"))
    writer.write(frame(spark, SCHEMA, [(1, "a", 1.0), (2, "b", 2.0)]), table, RunParams("2024-01-01"))
    writer.write(frame(spark, SCHEMA, [(3, "c", 3.0)]), table, RunParams("2024-01-02"))
    result = writer.write(frame(spark, SCHEMA, [(1, "a", 10.0)]), table, RunParams("2024-01-01"))
    assert result.rows == 1
    assert_frame_equal(
        spark.table(table.name),
        [(1, "a", 10.0, "2024-01-01"), (3, "c", 3.0, "2024-01-02")],
    )
    # the replaced version is gone: one directory per partition
    assert len(_run_dirs(spark, table.name)) == 2


def test_an_unpartitioned_table_is_replaced_whole_each_time(spark, scratch_db):
    sales = _sales(scratch_db)
    table = Table(f"{scratch_db}.totals", Contract(sales.contract.data_columns, primary_key=("id",)))
    writer = WarehouseWriter(env=Environment("local"))
    for ds, rows in (("2024-01-01", [(1, "a", 1.0)]), ("2024-01-02", [(2, "b", 2.0)]), ("2024-01-03", [(3, "c", 3.0)])):
        writer.write(frame(spark, SCHEMA, rows), table, RunParams(ds))
        assert_frame_equal(spark.table(table.name), rows)
    assert len(_run_dirs(spark, table.name)) == 0  # the table points at its only version
    root = spark.sql(f"DESCRIBE TABLE EXTENDED {table.name}").filter("col_name = 'Location'").first()[1]
    assert len([d for d in os.listdir(os.path.dirname(urlparse(root).path)) if d.startswith("run=")]) == 1


def test_same_ds_twice_gives_identical_rows(spark, scratch_db):
    table, writer = _sales(scratch_db), WarehouseWriter(env=Environment("local"))
    rows = [(1, "a", 1.0), (2, "b", 2.0)]
    for _ in range(2):
        writer.write(frame(spark, SCHEMA, rows), table, RunParams("2024-01-01"))
    assert_frame_equal(spark.table(table.name).drop("ds"), rows)


def test_schema_violations_are_all_named_and_nothing_is_written(spark, scratch_db):
    table, writer = _sales(scratch_db), WarehouseWriter(env=Environment("local"))
    bad = frame(spark, "id string, nam string, amount double, extra int", [("1", "a", 1.0, 0)])
    with pytest.raises(ContractViolation) as err:
        writer.write(bad, table, RunParams("2024-01-01"))
    message = str(err.value)
    assert "column id is string, contract says int" in message
    assert "missing column name string (closest: nam)" in message
    assert "unexpected column nam" in message and "unexpected column extra" in message
    assert len(err.value.violations) == 4
    assert not spark.catalog.tableExists("sales", scratch_db) or spark.table(table.name).count() == 0


def test_data_violations_keep_the_previous_version(spark, scratch_db):
    table, writer = _sales(scratch_db), WarehouseWriter(env=Environment("local"))
    writer.write(frame(spark, SCHEMA, [(1, "a", 1.0)]), table, RunParams("2024-01-01"))
    bad = frame(spark, SCHEMA, [(None, "x", 1.0), (2, "y", 1.0), (2, "z", 1.0)])
    with pytest.raises(ContractViolation) as err:
        writer.write(bad, table, RunParams("2024-01-01"))
    assert "column id has 1 null(s) but is NOT NULL" in str(err.value)
    assert "duplicate primary key (id), e.g. id=2" in str(err.value)
    assert_frame_equal(spark.table(table.name), [(1, "a", 1.0, "2024-01-01")])
    assert len(_run_dirs(spark, table.name)) == 1


def test_qa_writes_to_its_namespace_and_never_to_production(spark, scratch_db):
    table = _sales(scratch_db)
    qa = Environment("qa", "feature/new-metric")
    with pytest.raises(QaIsolationError, match="production table"):
        qa.check_write(table.name)
    result = WarehouseWriter(env=qa).write(frame(spark, SCHEMA, [(1, "a", 1.0)]), table, RunParams("2024-01-01"))
    try:
        assert result.table == f"qa_{qa.slug}__{scratch_db}.sales"
        assert not spark.catalog.tableExists("sales", scratch_db)
        # a qa run reads its own namespace once an upstream qa job wrote there
        df, where = WarehouseReader(qa).read(spark, table)
        assert where == result.table and df.count() == 1
    finally:
        spark.sql(f"DROP DATABASE IF EXISTS {result.table.split('.')[0]} CASCADE")


def test_reader_names_drifted_columns(spark, scratch_db):
    spark.sql(f"CREATE DATABASE {scratch_db}")
    spark.sql(f"CREATE TABLE {scratch_db}.sales (id bigint, name string, ds string) USING parquet")
    with pytest.raises(SourceError) as err:
        WarehouseReader(Environment("local")).read(spark, _sales(scratch_db))
    assert "column id is bigint, contract says int" in str(err.value)
    assert "missing column amount double" in str(err.value)


def test_extra_source_columns_are_ignored(spark, scratch_db):
    # the source gained a column (discount) between two of the contract's: the read is the
    # contract's columns, in its order, with their rows
    spark.sql(f"CREATE DATABASE {scratch_db}")
    frame(spark, "id int, name string, discount double, amount double, ds string",
          [(1, "a", 0.5, 1.0, "2024-01-01"), (2, "b", 0.25, 2.0, "2024-01-01")]).write.saveAsTable(f"{scratch_db}.sales")
    df, where = WarehouseReader(Environment("local")).read(spark, _sales(scratch_db))
    assert where == f"{scratch_db}.sales"
    assert df.columns == ["id", "name", "amount", "ds"]
    assert_frame_equal(df, [(1, "a", 1.0, "2024-01-01"), (2, "b", 2.0, "2024-01-01")])


def test_missing_table_says_how_to_fix(spark):
    with pytest.raises(SourceError, match="does not exist in the catalog"):
        WarehouseReader(Environment("local")).read(spark, _sales("pj_no_such_db"))


def test_a_killed_runs_version_is_removed_once_older_than_the_grace_period(spark, scratch_db, caplog):
    table, writer = _sales(scratch_db), WarehouseWriter(env=Environment("local"), orphan_grace_s=3600)
    writer.write(frame(spark, SCHEMA, [(1, "a", 1.0)]), table, RunParams("2024-01-01"))
    root = spark.sql(f"DESCRIBE TABLE EXTENDED {table.name}").filter("col_name = 'Location'").first()[1]
    ds_dir = urlparse(root).path + "/ds=2024-01-01"
    old, recent = f"{ds_dir}/run=0killed0old0", f"{ds_dir}/run=0still0busy0"
    for orphan in (old, recent):  # what a killed or a still running writer leaves
        os.makedirs(orphan)
        open(f"{orphan}/part-00000.parquet", "wb").close()
    two_hours_ago = os.path.getmtime(old) - 7200
    for path in (f"{old}/part-00000.parquet", old):
        os.utime(path, (two_hours_ago, two_hours_ago))
    caplog.set_level(logging.WARNING, logger="common.io.warehouse")
    writer.write(frame(spark, SCHEMA, [(2, "b", 2.0)]), table, RunParams("2024-01-01"))
    assert not os.path.exists(old) and os.path.exists(recent)
    assert "run=0killed0old0: a version no run swapped in" in caplog.text
    assert_frame_equal(spark.table(table.name), [(2, "b", 2.0, "2024-01-01")])


def test_a_violation_in_any_output_publishes_none_of_the_run(spark, scratch_db):
    sales = _sales(scratch_db)
    totals = Table(f"{scratch_db}.totals", sales.contract)
    writer, p = WarehouseWriter(env=Environment("local")), RunParams("2024-01-01")
    writer.write_all([(frame(spark, SCHEMA, [(1, "a", 1.0)]), sales), (frame(spark, SCHEMA, [(1, "a", 1.0)]), totals)], p)
    good, bad = frame(spark, SCHEMA, [(2, "b", 2.0)]), frame(spark, SCHEMA, [(3, "c", 3.0), (3, "d", 4.0)])
    with pytest.raises(ContractViolation, match=r"duplicate primary key \(id\), e.g. id=3"):
        writer.write_all([(good, sales), (bad, totals)], p)
    # both keep the previous run's version, and neither new version is left on disk
    assert_frame_equal(spark.table(sales.name), [(1, "a", 1.0, "2024-01-01")])
    assert_frame_equal(spark.table(totals.name), [(1, "a", 1.0, "2024-01-01")])
    assert len(_run_dirs(spark, sales.name)) == len(_run_dirs(spark, totals.name)) == 1


def test_a_write_drops_table_statistics_it_made_stale(spark, scratch_db):
    table, writer = _sales(scratch_db), WarehouseWriter(env=Environment("local"))
    writer.write(frame(spark, SCHEMA, [(1, "a", 1.0)]), table, RunParams("2024-01-01"))
    spark.sql(f"ANALYZE TABLE {table.name} COMPUTE STATISTICS")

    def statistics() -> list:
        return spark.sql(f"DESCRIBE TABLE EXTENDED {table.name}").filter("col_name = 'Statistics'").collect()

    assert statistics()
    writer.write(frame(spark, SCHEMA, [(2, "b", 2.0)]), table, RunParams("2024-01-02"))
    assert not statistics()
    assert_frame_equal(spark.table(table.name), [(1, "a", 1.0, "2024-01-01"), (2, "b", 2.0, "2024-01-02")])


def test_the_framework_uses_no_spark_internals():
    """Spark's private catalog classes change between releases and EMR builds: common/ reaches
    the metastore through public APIs and SQL only."""
    forbidden = ("_jsparkSession", "_jvm.org.apache.spark.sql.catalyst", "sessionState()")
    found = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
             for path in sorted((ROOT / "common").rglob("*.py"))
             for number, line in enumerate(path.read_text().splitlines(), 1)
             if any(name in line for name in forbidden)]
    assert found == []

"""Warehouse writes in both table formats: partition overwrite, contract enforcement, qa
isolation, versions kept for the retention period, any partition columns, source drift."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from urllib.parse import urlparse

import pytest

from common.contracts import HIVE, ICEBERG, Column, Contract, Table
from common.environments import Environment
from common.errors import ContractViolation, QaIsolationError, SourceError
from common.io.hive import HiveFormat, wall_clock
from common.io.iceberg import IcebergFormat
from common.io.table_format import described, format_for
from common.io.warehouse import WarehouseReader, WarehouseWriter
from common.job import RunParams
from tests.conftest import ROOT
from tests.helpers import assert_frame_equal, frame, load_dev_script

SCHEMA = "id int, name string, amount double"
EVENTS = "id int, amount double, hour int"
DAY_S = 86400
FORMATS = (ICEBERG, HIVE)


def _sales(db: str, fmt: str = ICEBERG, *, retention_days: float = 3.0) -> Table:
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
        format=fmt,
        retention_days=retention_days,
    )


def _events(db: str, fmt: str) -> Table:
    """Partitioned by the run date as yyyymmdd (filled by the writer) and an hour (from the data)."""
    return Table(
        f"{db}.events",
        Contract(
            (
                Column("id", "int", nullable=False),
                Column("amount", "double"),
                Column("hour", "int", nullable=False),
                Column("dt", "string", nullable=False),
            ),
            partition_by=("dt", "hour"),
            primary_key=("id",),
        ),
        format=fmt,
    )


@pytest.fixture(params=FORMATS)
def fmt(request) -> str:
    return request.param


def _location(spark, target: str) -> str:
    return described(spark, target)["Location"]


def _local(uri: str) -> str:
    return urlparse(uri).path


def _run_dirs(spark, physical: str) -> set[str]:
    """Every `run=` directory under a Hive table's directory (an unpartitioned table's location is one)."""
    root = _local(_location(spark, physical)).split("/run=")[0]
    return {os.path.join(top, d) for top, dirnames, _ in os.walk(root) for d in dirnames if d.startswith("run=")}


def _versions(spark, table: Table) -> set:
    """What a table keeps of its versions: run= directories (hive), snapshots (iceberg)."""
    if table.format == HIVE:
        return _run_dirs(spark, table.name)
    return {r.snapshot_id for r in spark.sql(f"SELECT snapshot_id FROM {table.name}.snapshots").collect()}


def _current_snapshot(spark, physical: str) -> int:
    return spark.sql(f"SELECT snapshot_id FROM {physical}.refs WHERE name = 'main'").first().snapshot_id


# Generic writer behaviour: the same in both formats.


def test_rerun_replaces_exactly_its_partition(spark, scratch_db, fmt):
    table, writer = _sales(scratch_db, fmt), WarehouseWriter(env=Environment("local"))
    writer.write(frame(spark, SCHEMA, [(1, "a", 1.0), (2, "b", 2.0)]), table, RunParams("2024-01-01"))
    writer.write(frame(spark, SCHEMA, [(3, "c", 3.0)]), table, RunParams("2024-01-02"))
    result = writer.write(frame(spark, SCHEMA, [(1, "a", 10.0)]), table, RunParams("2024-01-01"))
    assert (result.rows, result.partition, result.format) == (1, "ds=2024-01-01", fmt)
    assert_frame_equal(
        spark.table(table.name),
        [(1, "a", 10.0, "2024-01-01"), (3, "c", 3.0, "2024-01-02")],
    )


def test_an_unpartitioned_table_is_replaced_whole_each_time(spark, scratch_db, fmt):
    sales = _sales(scratch_db)
    table = Table(f"{scratch_db}.totals", Contract(sales.contract.data_columns, primary_key=("id",)), format=fmt)
    writer = WarehouseWriter(env=Environment("local"))
    for ds, rows in (("2024-01-01", [(1, "a", 1.0)]), ("2024-01-02", [(2, "b", 2.0)]), ("2024-01-03", [(3, "c", 3.0)])):
        result = writer.write(frame(spark, SCHEMA, rows), table, RunParams(ds))
        assert (result.rows, result.partition) == (1, "")
        assert_frame_equal(spark.table(table.name), rows)


def test_the_key_is_checked_within_the_runs_own_partition(spark, scratch_db, fmt):
    """The key holds per ds: id 1 on two days is two rows, not a duplicate (an Iceberg staged
    snapshot holds the whole table, so its check must look at the run's partition only)."""
    table, writer = _sales(scratch_db, fmt), WarehouseWriter(env=Environment("local"))
    for ds in ("2024-01-01", "2024-01-02"):
        writer.write(frame(spark, SCHEMA, [(1, "a", 1.0)]), table, RunParams(ds))
    assert_frame_equal(spark.table(table.name), [(1, "a", 1.0, "2024-01-01"), (1, "a", 1.0, "2024-01-02")])


def test_same_ds_twice_gives_identical_rows(spark, scratch_db, fmt):
    table, writer = _sales(scratch_db, fmt), WarehouseWriter(env=Environment("local"))
    rows = [(1, "a", 1.0), (2, "b", 2.0)]
    for _ in range(2):
        writer.write(frame(spark, SCHEMA, rows), table, RunParams("2024-01-01"))
    assert_frame_equal(spark.table(table.name).drop("ds"), rows)


def test_schema_violations_are_all_named_and_nothing_is_written(spark, scratch_db, fmt):
    table, writer = _sales(scratch_db, fmt), WarehouseWriter(env=Environment("local"))
    bad = frame(spark, "id string, nam string, amount double, extra int", [("1", "a", 1.0, 0)])
    with pytest.raises(ContractViolation) as err:
        writer.write(bad, table, RunParams("2024-01-01"))
    message = str(err.value)
    assert "column id is string, contract says int" in message
    assert "missing column name string (closest: nam)" in message
    assert "unexpected column nam" in message and "unexpected column extra" in message
    assert len(err.value.violations) == 4
    assert not spark.catalog.tableExists("sales", scratch_db)


def test_data_violations_keep_the_previous_version(spark, scratch_db, fmt):
    table, writer = _sales(scratch_db, fmt), WarehouseWriter(env=Environment("local"))
    writer.write(frame(spark, SCHEMA, [(1, "a", 1.0)]), table, RunParams("2024-01-01"))
    before = _versions(spark, table)
    assert len(before) == 1
    bad = frame(spark, SCHEMA, [(None, "x", 1.0), (2, "y", 1.0), (2, "z", 1.0)])
    with pytest.raises(ContractViolation) as err:
        writer.write(bad, table, RunParams("2024-01-01"))
    assert "column id has 1 null(s) but is NOT NULL" in str(err.value)
    assert "duplicate primary key (id), e.g. id=2" in str(err.value)
    assert_frame_equal(spark.table(table.name), [(1, "a", 1.0, "2024-01-01")])
    assert _versions(spark, table) == before  # the rejected version is not kept either


def test_qa_writes_to_its_namespace_and_never_to_production(spark, scratch_db, fmt):
    table = _sales(scratch_db, fmt)
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
        spark.sql(f"DROP TABLE IF EXISTS {result.table}")
        spark.sql(f"DROP DATABASE IF EXISTS {result.table.split('.')[0]} CASCADE")


def test_a_violation_in_any_output_publishes_none_of_the_run(spark, scratch_db, fmt):
    sales = _sales(scratch_db, fmt)
    totals = Table(f"{scratch_db}.totals", sales.contract, format=fmt)
    writer, p = WarehouseWriter(env=Environment("local")), RunParams("2024-01-01")
    writer.write_all([(frame(spark, SCHEMA, [(1, "a", 1.0)]), sales), (frame(spark, SCHEMA, [(1, "a", 1.0)]), totals)], p)
    before = {t.name: _versions(spark, t) for t in (sales, totals)}
    good, bad = frame(spark, SCHEMA, [(2, "b", 2.0)]), frame(spark, SCHEMA, [(3, "c", 3.0), (3, "d", 4.0)])
    with pytest.raises(ContractViolation, match=r"duplicate primary key \(id\), e.g. id=3"):
        writer.write_all([(good, sales), (bad, totals)], p)
    # both keep the previous run's version, and neither new version is kept
    assert_frame_equal(spark.table(sales.name), [(1, "a", 1.0, "2024-01-01")])
    assert_frame_equal(spark.table(totals.name), [(1, "a", 1.0, "2024-01-01")])
    assert {t.name: _versions(spark, t) for t in (sales, totals)} == before


def test_a_run_date_and_an_hour_partition_rewrite_only_the_hours_written(spark, scratch_db, fmt):
    table, writer = _events(scratch_db, fmt), WarehouseWriter(env=Environment("local"))
    writer.write(frame(spark, EVENTS, [(1, 1.0, 0), (2, 2.0, 1), (3, 3.0, 2)]), table, RunParams("2024-01-01"))
    writer.write(frame(spark, EVENTS, [(9, 9.0, 1)]), table, RunParams("2024-01-02"))
    written = {hour: _location(spark, f"{table.name} PARTITION (dt='20240101', hour={hour})") for hour in (0, 1, 2)} \
        if fmt == HIVE else {}
    other_day = _location(spark, f"{table.name} PARTITION (dt='20240102', hour=1)") if fmt == HIVE else None

    writer.write(frame(spark, EVENTS, [(4, 40.0, 1)]), table, RunParams("2024-01-01"))
    assert_frame_equal(
        spark.table(table.name).select("id", "amount", "hour", "dt"),
        [(1, 1.0, 0, "20240101"), (4, 40.0, 1, "20240101"), (3, 3.0, 2, "20240101"), (9, 9.0, 1, "20240102")],
    )
    if fmt == HIVE:
        now_at = {hour: _location(spark, f"{table.name} PARTITION (dt='20240101', hour={hour})") for hour in (0, 1, 2)}
        assert now_at[0] == written[0] and now_at[2] == written[2]
        assert now_at[1] != written[1] and "/dt=20240101/run=" in now_at[1] and now_at[1].endswith("/hour=1")
        assert _location(spark, f"{table.name} PARTITION (dt='20240102', hour=1)") == other_day
        partitions = sorted(r[0] for r in spark.sql(f"SHOW PARTITIONS {table.name}").collect())
        assert partitions == ["dt=20240101/hour=0", "dt=20240101/hour=1", "dt=20240101/hour=2", "dt=20240102/hour=1"]


def test_a_hive_write_asks_the_metastore_only_what_it_must(spark, scratch_db):
    """Counted by the metastore service itself (its audit log): a write lists its date's
    partitions once, adds the new ones in one call and updates each existing one, looking none
    up on its own; the expiry pass, with no version due, asks nothing; and no write lists the
    catalog's databases or tables."""
    from common.settings import load_settings

    audit = load_dev_script("metastore_audit")
    calls = audit.MetastoreCalls(load_settings().var / "log" / "metastore.log", scratch_db)
    table, writer = _events(scratch_db, HIVE), WarehouseWriter(env=Environment("local"))

    def write(rows: list[tuple], ds: str):  # noqa: ANN202 - a Counter
        mark = calls.mark()
        writer.write(frame(spark, EVENTS, rows), table, RunParams(ds))
        return calls.since(mark)

    first = write([(1, 1.0, 0), (2, 2.0, 1), (3, 3.0, 2)], "2024-01-01")  # the table's first write
    again = write([(4, 4.0, 1)], "2024-01-01")  # one partition, which exists
    mixed = write([(5, 5.0, 1), (6, 6.0, 7)], "2024-01-01")  # hour 1 exists, hour 7 is new
    partition_reads = ("get_partitions_names_ps", "get_partition_with_auth", "get_partitions_ps_with_auth")
    assert first["create_table"] == 1
    assert [first[c] for c in ("add_partitions", "alter_partitions", *partition_reads)] == [1, 0, 1, 0, 0]
    # An update reads its one partition (Spark's ALTER TABLE ... SET LOCATION does).
    assert [again[c] for c in ("add_partitions", "alter_partitions", *partition_reads)] == [0, 1, 1, 1, 0]
    assert [mixed[c] for c in ("add_partitions", "alter_partitions", *partition_reads)] == [1, 1, 1, 1, 0]
    assert not any(c[call] for c in (first, again, mixed) for call in audit.LISTINGS)
    assert_frame_equal(
        spark.table(table.name).select("id", "amount", "hour", "dt"),
        [(1, 1.0, 0, "20240101"), (5, 5.0, 1, "20240101"), (3, 3.0, 2, "20240101"), (6, 6.0, 7, "20240101")],
    )


def test_a_rewrite_asks_the_metastore_no_more_than_the_three_statements_it_needs(spark, scratch_db):
    """A hive rewrite of one day needs the table's location (one DESCRIBE), its day's partitions
    (SHOW PARTITIONS) and the partition pointed at the new version (SET LOCATION). The writer's
    calls, counted by the metastore service, equal Spark's for those three statements issued by
    hand on a twin table in the same state: the table is described once, for the writer and the
    format both, and nothing else is asked. (Before, an existence check, a second DESCRIBE and
    a schema lookup added 13 calls.)"""
    from common.settings import load_settings

    audit = load_dev_script("metastore_audit")
    calls = audit.MetastoreCalls(load_settings().var / "log" / "metastore.log", scratch_db)
    writer = WarehouseWriter(env=Environment("local"))
    table, twin = _sales(scratch_db, HIVE), replace(_sales(scratch_db, HIVE), name=f"{scratch_db}.sales_twin")
    for t in (table, twin):
        writer.write(frame(spark, SCHEMA, [(1, "a", 1.0)]), t, RunParams("2024-01-01"))

    mark = calls.mark()
    writer.write(frame(spark, SCHEMA, [(1, "a", 2.0)]), table, RunParams("2024-01-01"))
    by_writer = calls.since(mark)
    mark = calls.mark()
    location = _location(spark, twin.name)
    spark.sql(f"SHOW PARTITIONS {twin.name} PARTITION (`ds` = '2024-01-01')").collect()
    spark.sql(f"ALTER TABLE {twin.name} PARTITION (`ds` = '2024-01-01') SET LOCATION '{location}/ds=2024-01-01/x'")
    by_hand = calls.since(mark)

    assert by_hand["alter_partitions"] == 1 and by_hand["get_table"] > 0  # the reference was counted
    assert by_writer == by_hand
    assert_frame_equal(spark.table(table.name).select("id", "name", "amount", "ds"), [(1, "a", 2.0, "2024-01-01")])


def test_a_new_process_reads_a_hive_partition_without_reconnecting_to_the_metastore(spark, scratch_db):
    """Hive 2.3's client sets its metastore filter hook at its first partition call and drops its
    connection for it, unless the hook is set from the start (HIVE-24404): the call then waits a
    second for the reconnect. Once per process, so a process of its own."""
    table = _sales(scratch_db, HIVE)
    WarehouseWriter(env=Environment("local")).write(frame(spark, SCHEMA, [(1, "a", 1.0)]), table, RunParams("2024-01-01"))
    script = ("from common.session import get_spark; get_spark('first partition call').sql("
              f"\"DESCRIBE TABLE EXTENDED {table.name} PARTITION (ds='2024-01-01')\").collect()")
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "getPartitionWithAuthInfo" not in run.stderr and "lost connection" not in run.stderr


# Hive tables: each version a run= directory, kept for the retention period.


def test_a_hive_rewrite_keeps_the_replaced_version_readable_until_the_retention_passes(spark, scratch_db):
    table, writer = _sales(scratch_db, HIVE), WarehouseWriter(env=Environment("local"))
    writer.write(frame(spark, SCHEMA, [(3, "c", 3.0)]), table, RunParams("2024-01-02"))
    other = _location(spark, f"{table.name} PARTITION (ds='2024-01-02')")
    writer.write(frame(spark, SCHEMA, [(1, "a", 1.0), (2, "b", 2.0)]), table, RunParams("2024-01-01"))
    old = _location(spark, f"{table.name} PARTITION (ds='2024-01-01')")
    writer.write(frame(spark, SCHEMA, [(1, "a", 10.0)]), table, RunParams("2024-01-01"))
    new = _location(spark, f"{table.name} PARTITION (ds='2024-01-01')")

    root = _local(_location(spark, table.name))
    assert old != new and all(_local(v).startswith(f"{root}/ds=2024-01-01/run=") for v in (old, new))
    assert _location(spark, f"{table.name} PARTITION (ds='2024-01-02')") == other
    assert _run_dirs(spark, table.name) == {_local(v) for v in (old, new, other)}
    assert_frame_equal(spark.read.parquet(old), [(1, "a", 1.0), (2, "b", 2.0)])  # the old version, readable
    history = HiveFormat().history(spark, table, table.name, "2024-01-01")
    assert [(v.run_id, v.rows, v.current) for v in history] == [
        (old.rsplit("run=", 1)[1], 2, False), (new.rsplit("run=", 1)[1], 1, True)]

    assert HiveFormat().expire(spark, table, table.name, wall_clock() + 2 * DAY_S) == []
    assert os.path.isdir(_local(old))
    removed = HiveFormat().expire(spark, table, table.name, wall_clock() + 3 * DAY_S + 60)
    assert [_local(v) for v in removed] == [_local(old)]
    assert _run_dirs(spark, table.name) == {_local(v) for v in (new, other)}
    assert [v.run_id for v in HiveFormat().history(spark, table, table.name, "2024-01-01")] == [new.rsplit("run=", 1)[1]]
    assert_frame_equal(spark.table(table.name), [(1, "a", 10.0, "2024-01-01"), (3, "c", 3.0, "2024-01-02")])


def test_a_hive_table_without_retention_deletes_the_replaced_version_at_once(spark, scratch_db):
    table, writer = _sales(scratch_db, HIVE, retention_days=0), WarehouseWriter(env=Environment("local"))
    writer.write(frame(spark, SCHEMA, [(1, "a", 1.0)]), table, RunParams("2024-01-01"))
    old = _location(spark, f"{table.name} PARTITION (ds='2024-01-01')")
    writer.write(frame(spark, SCHEMA, [(2, "b", 2.0)]), table, RunParams("2024-01-01"))
    new = _location(spark, f"{table.name} PARTITION (ds='2024-01-01')")
    assert old != new and _run_dirs(spark, table.name) == {_local(new)}
    assert_frame_equal(spark.table(table.name), [(2, "b", 2.0, "2024-01-01")])


def test_a_killed_runs_hive_directory_is_deleted_only_after_the_retention(spark, scratch_db):
    table, writer = _sales(scratch_db, HIVE), WarehouseWriter(env=Environment("local"))
    writer.write(frame(spark, SCHEMA, [(1, "a", 1.0)]), table, RunParams("2024-01-01"))
    first = _location(spark, f"{table.name} PARTITION (ds='2024-01-01')")
    killed = f"{_local(_location(spark, table.name))}/ds=2024-01-01/run=0killed0run0"
    # what a writer killed mid-write leaves: task files not yet committed, never published
    frame(spark, SCHEMA, [(7, "k", 7.0)]).write.parquet(f"{killed}/_temporary/0/_temporary/attempt_0")
    writer.write(frame(spark, SCHEMA, [(2, "b", 2.0)]), table, RunParams("2024-01-01"))
    current = _location(spark, f"{table.name} PARTITION (ds='2024-01-01')")

    assert _run_dirs(spark, table.name) == {_local(first), killed, _local(current)}  # all within the retention
    assert_frame_equal(spark.table(table.name), [(2, "b", 2.0, "2024-01-01")])
    history = HiveFormat().history(spark, table, table.name, "2024-01-01")
    assert {v.run_id: (v.rows, v.current) for v in history} == {
        first.rsplit("run=", 1)[1]: (1, False), "0killed0run0": (0, False), current.rsplit("run=", 1)[1]: (1, True)}
    assert HiveFormat().expire(spark, table, table.name, wall_clock() + 2 * DAY_S) == []
    removed = HiveFormat().expire(spark, table, table.name, wall_clock() + 3 * DAY_S + 60)
    assert sorted(_local(v) for v in removed) == sorted([_local(first), killed])
    assert _run_dirs(spark, table.name) == {_local(current)}
    assert_frame_equal(spark.table(table.name), [(2, "b", 2.0, "2024-01-01")])


def test_a_write_drops_hive_table_statistics_it_made_stale(spark, scratch_db):
    # Iceberg keeps its own statistics with each snapshot; ANALYZE TABLE is for Hive tables only
    table, writer = _sales(scratch_db, HIVE), WarehouseWriter(env=Environment("local"))
    writer.write(frame(spark, SCHEMA, [(1, "a", 1.0)]), table, RunParams("2024-01-01"))
    spark.sql(f"ANALYZE TABLE {table.name} COMPUTE STATISTICS")

    def statistics() -> list:
        return spark.sql(f"DESCRIBE TABLE EXTENDED {table.name}").filter("col_name = 'Statistics'").collect()

    assert statistics()
    writer.write(frame(spark, SCHEMA, [(2, "b", 2.0)]), table, RunParams("2024-01-02"))
    assert not statistics()
    assert_frame_equal(spark.table(table.name), [(1, "a", 1.0, "2024-01-01"), (2, "b", 2.0, "2024-01-02")])


# Iceberg tables: each version a snapshot, kept for the retention period.


def test_an_iceberg_rewrite_keeps_the_replaced_snapshot_readable_until_it_expires(spark, scratch_db):
    table, writer = _sales(scratch_db, ICEBERG), WarehouseWriter(env=Environment("local"))
    writer.write(frame(spark, SCHEMA, [(1, "a", 1.0), (2, "b", 2.0)]), table, RunParams("2024-01-01"))
    old = _current_snapshot(spark, table.name)
    writer.write(frame(spark, SCHEMA, [(1, "a", 10.0)]), table, RunParams("2024-01-01"))
    new = _current_snapshot(spark, table.name)

    assert old != new
    assert_frame_equal(spark.table(table.name), [(1, "a", 10.0, "2024-01-01")])
    assert_frame_equal(spark.read.option("snapshot-id", old).table(table.name),
                       [(1, "a", 1.0, "2024-01-01"), (2, "b", 2.0, "2024-01-01")])
    history = IcebergFormat().history(spark, table, table.name, "2024-01-01")
    assert [(v.version, v.rows, v.current) for v in history] == [(str(old), 2, False), (str(new), 1, True)]

    assert IcebergFormat().expire(spark, table, table.name, wall_clock() + 2 * DAY_S) == []
    assert spark.read.option("snapshot-id", old).table(table.name).count() == 2
    assert IcebergFormat().expire(spark, table, table.name, wall_clock() + 3 * DAY_S + 60)  # its files deleted
    with pytest.raises(Exception, match=str(old)):
        spark.read.option("snapshot-id", old).table(table.name).collect()
    assert [v.version for v in IcebergFormat().history(spark, table, table.name, "2024-01-01")] == [str(new)]
    assert_frame_equal(spark.table(table.name), [(1, "a", 10.0, "2024-01-01")])


# Bad input: refused in one line, nothing written.


def test_an_unknown_format_is_refused_by_name(scratch_db):
    with pytest.raises(ValueError, match="format must be 'iceberg' or 'hive', not 'delta'"):
        _sales(scratch_db, "delta")
    with pytest.raises(ValueError, match="unknown table format 'delta'"):
        format_for("delta")


def test_a_partition_column_missing_from_the_contract_is_refused_by_name():
    with pytest.raises(ValueError, match="partition column 'region' is not one of the contract's columns"):
        Contract((Column("id", "int"), Column("ds", "string")), partition_by=("ds", "region"))


@pytest.mark.parametrize(("existing", "declared"), [(HIVE, ICEBERG), (ICEBERG, HIVE)])
def test_an_existing_table_of_the_other_format_is_refused_and_nothing_written(spark, scratch_db, existing, declared):
    writer = WarehouseWriter(env=Environment("local"))
    writer.write(frame(spark, SCHEMA, [(1, "a", 1.0)]), _sales(scratch_db, existing), RunParams("2024-01-01"))
    before = _versions(spark, _sales(scratch_db, existing))
    with pytest.raises(ContractViolation) as err:
        writer.write(frame(spark, SCHEMA, [(2, "b", 2.0)]), _sales(scratch_db, declared), RunParams("2024-01-01"))
    assert f"is a {existing} table but the contract declares format '{declared}'" in str(err.value)
    assert_frame_equal(spark.table(f"{scratch_db}.sales"), [(1, "a", 1.0, "2024-01-01")])
    assert _versions(spark, _sales(scratch_db, existing)) == before


# Reads.


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


def test_the_framework_uses_no_spark_internals():
    """Spark's private catalog classes change between releases and EMR builds: common/ reaches
    the metastore through public APIs and SQL only."""
    forbidden = ("_jsparkSession", "_jvm.org.apache.spark.sql.catalyst", "sessionState()")
    found = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
             for path in sorted((ROOT / "common").rglob("*.py"))
             for number, line in enumerate(path.read_text().splitlines(), 1)
             if any(name in line for name in forbidden)]
    assert found == []

"""A rewrite of a partition on S3 while others read it, in both table formats.

A second Spark process starts reading the old version of a partition (four files, one task
each, one task at a time) and is held inside its first task until the rewrite has published;
its remaining tasks then open the old version's files, which stay until the table's retention
has passed. Trino reads through the `lake` catalog (Iceberg tables by redirection) and sees the
new rows. After the retention the old files are gone.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import uuid
from dataclasses import replace

import pytest

from common.cli import main
from common.contracts import Column, Contract, Table
from common.environments import Environment
from common.errors import ContractViolation
from common.io.hive import HadoopFs
from common.io.table_format import format_for, provider
from common.io.warehouse import WarehouseWriter
from common.job import Job, RunParams
from tests.helpers import trino_rows

pytestmark = pytest.mark.services

DS = "2024-03-01"
LAKE = "s3://pyspark-jobs-lake/tests/versions"
OLD = [(i, f"old-{i}") for i in range(4)]
NEW = [(i, f"new-{i}") for i in range(3)]

READER = textwrap.dedent("""
    import json, os, sys, time
    from pyspark.sql import functions as F
    from common.session import get_spark

    table, started, published = sys.argv[1:4]
    spark = get_spark("second-reader", master="local[1]")  # one task at a time
    spark.conf.set("spark.sql.files.openCostInBytes", str(1 << 30))  # one task per file (hive)

    def hold(value):
        # The first task waits until the rewrite is published; the others then open old files.
        if not os.path.exists(started):
            open(started, "w").close()
            deadline = time.time() + 300
            while not os.path.exists(published) and time.time() < deadline:
                time.sleep(0.2)
        return value

    df = spark.read.option("split-size", "1").table(table)  # one task per file (iceberg).where(F.col("ds") == sys.argv[4])
    rows = df.select("id", F.udf(hold, "string")("v").alias("v")).collect()
    print(json.dumps(sorted([r.id, r.v] for r in rows)))
""")


def _table(db: str, fmt: str) -> Table:
    contract = Contract((Column("id", "bigint", nullable=False), Column("v", "string"), Column("ds", "string")),
                        partition_by=("ds",), primary_key=("id",))
    return Table(f"{db}.versions_{fmt}", contract, format=fmt)


@pytest.fixture
def s3_db(spark):
    name = f"pj_versions_{uuid.uuid4().hex[:8]}"
    yield name
    spark.sql(f"DROP DATABASE IF EXISTS {name} CASCADE")


@pytest.mark.parametrize("fmt", ["hive", "iceberg"])
def test_a_reader_on_the_old_version_finishes_with_the_old_rows_while_a_rewrite_publishes(spark, s3_db, fmt, tmp_path):
    table = _table(s3_db, fmt)
    writer = WarehouseWriter(env=Environment("local"), lake_root=LAKE, qa_root=f"{LAKE}-qa")
    old = spark.createDataFrame(OLD, "id bigint, v string").repartitionByRange(4, "id")  # a file per row
    if fmt == "iceberg":  # four files, as the hive version has: no clustering by partition before the write
        spark.sql(f"CREATE DATABASE {s3_db} LOCATION '{LAKE}/{s3_db}'")
        format_for(fmt).create(spark, table, table.name, f"{LAKE}/{s3_db}/{table.table}")
        spark.sql(f"ALTER TABLE {table.name} SET TBLPROPERTIES ('write.distribution-mode'='none')")
    first = writer.write(old, table, RunParams(DS))
    assert first.rows == 4
    fs = HadoopFs(spark)
    old_files = [r.file_path for r in spark.sql(f"SELECT file_path FROM {table.name}.files").collect()] \
        if fmt == "iceberg" else [first.location]

    started, published = tmp_path / "started", tmp_path / "published"
    reader = subprocess.Popen([sys.executable, "-c", READER, table.name, str(started), str(published), DS],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while not started.exists():
            assert reader.poll() is None, reader.stderr.read()[-3000:]
            assert time.monotonic() < deadline, "the second reader never started its first task"
            time.sleep(0.2)
        second = writer.write(spark.createDataFrame(NEW, "id bigint, v string"), table, RunParams(DS))
        published.touch()
        out, err = reader.communicate(timeout=300)
    finally:
        reader.kill()
    assert reader.returncode == 0, err[-3000:]
    assert json.loads(out.strip().splitlines()[-1]) == [list(r) for r in OLD]  # every row of the old version

    spark.catalog.refreshTable(table.name)
    now = sorted((r.id, r.v) for r in spark.table(table.name).where(f"ds = '{DS}'").collect())
    assert now == NEW
    lake_name = f"lake.{table.name}"
    assert sorted(trino_rows(f"SELECT id, v FROM {lake_name} WHERE ds = '{DS}'")) == NEW

    # Within the retention the old version is listed and readable; after it, it is gone.
    fmt_ = format_for(fmt)
    versions = fmt_.history(spark, table, table.name, DS)
    assert [(v.rows, v.current) for v in versions] == [(4, False), (3, True)]
    previous = versions[0]
    assert old_files and all(fs.exists(f) for f in old_files)
    if fmt == "iceberg":
        assert spark.read.option("snapshot-id", int(previous.version)).table(table.name).count() == 4
    removed = fmt_.expire(spark, table, table.name, time.time() + 4 * 86400, DS)  # past the 3-day retention
    assert removed
    assert not any(fs.exists(f) for f in old_files)
    if fmt == "hive":
        assert fs.exists(second.location)
    else:
        with pytest.raises(Exception, match="snapshot"):
            spark.read.option("snapshot-id", int(previous.version)).table(table.name).count()
    assert [v.rows for v in fmt_.history(spark, table, table.name, DS)] == [3]
    assert sorted(trino_rows(f"SELECT id, v FROM {lake_name} WHERE ds = '{DS}'")) == NEW


@pytest.mark.parametrize("fmt", ["hive", "iceberg"])
def test_trino_reads_a_table_after_migrate_table_adds_a_column(spark, s3_db, fmt):
    """`migrate-table --apply` adds a nullable column on S3; Trino then reads the partition written
    before (the new column null) and the one written after (its values), in both formats."""
    writer = WarehouseWriter(env=Environment("local"), lake_root=LAKE, qa_root=f"{LAKE}-qa")
    before = _table(s3_db, fmt)
    writer.write(spark.createDataFrame(OLD, "id bigint, v string"), before, RunParams(DS))
    columns = before.contract.columns
    after = Table(before.name, Contract((*columns[:2], Column("note", "string"), columns[2]), partition_by=("ds",),
                                       primary_key=("id",)), format=fmt)
    name = f"tests.versions_{uuid.uuid4().hex[:8]}"  # the job that writes it, where migrate-table finds the contract
    type(name, (Job,), {"name": name, "outputs": {"out": after}, "steps": lambda self, p: {}})
    try:
        assert main(["migrate-table", after.name, "--apply"]) == 0
    finally:
        Job.registry.pop(name, None)
    later = "2024-03-02"
    writer.write(spark.createDataFrame([(9, "x", "note-9")], "id bigint, v string, note string"), after, RunParams(later))
    assert sorted(trino_rows(f"SELECT id, v, note, ds FROM lake.{after.name}")) == sorted(
        [(i, v, None, DS) for i, v in OLD] + [(9, "x", "note-9", later)])


def test_migrate_table_converts_a_hive_table_to_iceberg_in_place(spark, s3_db, capsys):
    """A Hive-style table on S3 whose contract now says iceberg: a run refuses to write it and
    names the command; `migrate-table --apply` converts it without copying a file, each
    partition's current version its first snapshot, and Spark, Trino and the next run use it."""
    writer = WarehouseWriter(env=Environment("local"), lake_root=LAKE, qa_root=f"{LAKE}-qa")
    hive, later = _table(s3_db, "hive"), "2024-03-02"
    writer.write(spark.createDataFrame(OLD, "id bigint, v string"), hive, RunParams(DS))
    current = writer.write(spark.createDataFrame(NEW, "id bigint, v string"), hive, RunParams(DS))  # replaces OLD
    other = writer.write(spark.createDataFrame([(7, "seven")], "id bigint, v string"), hive, RunParams(later))
    iceberg = replace(hive, format="iceberg")
    name = f"tests.versions_{uuid.uuid4().hex[:8]}"
    type(name, (Job,), {"name": name, "outputs": {"out": iceberg}, "steps": lambda self, p: {}})
    try:
        with pytest.raises(ContractViolation, match=f"convert it with `pyspark-jobs migrate-table {iceberg.name} --apply`"):
            writer.write(spark.createDataFrame(NEW, "id bigint, v string"), iceberg, RunParams(DS))
        assert main(["migrate-table", iceberg.name]) == 0
        planned = capsys.readouterr().out
        assert planned.startswith(f"safe     {iceberg.name}: format hive becomes iceberg: converted in place"), planned
        assert provider(spark, iceberg.name) == "hive"  # only the plan
        assert main(["migrate-table", iceberg.name, "--apply"]) == 0
        assert "applied: CALL spark_catalog.system.migrate(" in capsys.readouterr().out
    finally:
        Job.registry.pop(name, None)
    assert provider(spark, iceberg.name) == "iceberg"
    expected = sorted([(i, v, DS) for i, v in NEW] + [(7, "seven", later)])
    assert sorted(tuple(r) for r in spark.table(iceberg.name).collect()) == expected
    assert sorted(trino_rows(f"SELECT id, v, ds FROM lake.{iceberg.name}")) == expected
    files = [r.file_path for r in spark.sql(f"SELECT file_path FROM {iceberg.name}.files").collect()]
    assert files and all(f.startswith((current.location, other.location)) for f in files), files  # not copied
    assert [r.tableName for r in spark.sql(f"SHOW TABLES IN {s3_db}").collect()] == [hive.table]  # no backup left
    properties = {r.key: r.value for r in spark.sql(f"SHOW TBLPROPERTIES {iceberg.name}").collect()}
    assert properties["write.wap.enabled"] == "true" and properties["format-version"] == "2"
    # The next run publishes as on any Iceberg table; the conversion's snapshot (every partition,
    # no run id) stays in the table's history, and a day can be rolled back to it.
    writer.write(spark.createDataFrame([(1, "after")], "id bigint, v string"), iceberg, RunParams(DS))
    spark.catalog.refreshTable(iceberg.name)
    assert sorted(tuple(r) for r in spark.table(iceberg.name).where(f"ds = '{DS}'").collect()) == [(1, "after", DS)]
    fmt = format_for("iceberg")
    converted, run = fmt.history(spark, iceberg, iceberg.name, None)
    assert (converted.run_id, converted.rows, run.rows) == ("", 4, 1) and run.run_id
    day = fmt.history(spark, iceberg, iceberg.name, DS)
    assert [(v.version, v.rows, v.current) for v in day] == [(converted.version, 3, False), (run.version, 1, True)]
    assert day[0].detail["written by"] == "no run: the table as converted"
    assert [v.rows for v in fmt.history(spark, iceberg, iceberg.name, later)] == [1]
    fmt.rollback(spark, iceberg, iceberg.name, DS, converted.version)
    spark.catalog.refreshTable(iceberg.name)
    assert sorted(tuple(r) for r in spark.table(iceberg.name).where(f"ds = '{DS}'").collect()) == [(i, v, DS) for i, v in NEW]

"""Bad data in the sources, run for real: each fails with a clear error before anything is
written, or has a documented result.

MySQL cases copy tpch.nation into a scratch MariaDB database and break the copy; warehouse
cases use scratch catalog tables. Expected rows come from TPC-H's fixed nation table.
"""

from __future__ import annotations

import logging

import pytest

from common.contracts import MYSQL, Column, Contract, Table
from common.environments import Environment
from common.errors import SourceError
from common.job import Job, step
from common.runner import RunConfig, run_job
from pyspark_jobs.tpch.tables import NATION
from tests.helpers import assert_frame_equal, frame, mysql_connection

pytestmark = pytest.mark.services

SOURCE_DB = "pj_bad_source"  # MariaDB scratch database, and the warehouse one for lake cases
OUT_DB = "pj_bad_out"
DS = "1995-03-15"

_NATIONS = Table(
    f"{OUT_DB}.nations",
    Contract(
        (Column("n_nationkey", "int", nullable=False), Column("n_name", "string"), Column("ds", "string", nullable=False)),
        partition_by=("ds",),
        primary_key=("n_nationkey",),
    ),
)
_COPY = Table(
    f"{OUT_DB}.sales",
    Contract((Column("id", "int"), Column("amount", "double"), Column("ds", "string", nullable=False)), partition_by=("ds",)),
)
_SALES = Table(f"{SOURCE_DB}.sales", Contract((Column("id", "int"), Column("amount", "double"))))


def _names(nation):
    return nation.select("n_nationkey", "n_name")


def _copy(sales):
    return sales


class _Dimension(Job):
    name = "tests.bad_dimension"
    inputs = {"nation": Table(f"{SOURCE_DB}.nation", NATION.contract, store=MYSQL, check_keys=True)}
    outputs = {"nations": _NATIONS}

    def steps(self, p):
        return {"nations": step(_names, "nation")}


class _Sales(Job):
    name = "tests.sales_copy"
    inputs = {"sales": _SALES}
    outputs = {"copied": _COPY}

    def steps(self, p):
        return {"copied": step(_copy, "sales")}


@pytest.fixture
def mysql_copy(spark):
    """A cursor on a fresh copy of tpch.nation in the scratch MariaDB database (no primary key)."""
    conn = mysql_connection()
    with conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {SOURCE_DB}")
        cur.execute(f"CREATE DATABASE {SOURCE_DB}")
        cur.execute(f"CREATE TABLE {SOURCE_DB}.nation AS SELECT * FROM tpch.nation")
        yield cur
        cur.execute(f"DROP DATABASE IF EXISTS {SOURCE_DB}")
    spark.sql(f"DROP DATABASE IF EXISTS {OUT_DB} CASCADE")


@pytest.fixture
def lake(spark):
    yield spark
    for db in (SOURCE_DB, OUT_DB):
        spark.sql(f"DROP DATABASE IF EXISTS {db} CASCADE")


def _fails_and_writes_nothing(spark, job: str) -> str:
    with pytest.raises(SourceError) as err:
        run_job(RunConfig(job=job, ds=DS), spark)
    assert not spark.catalog.databaseExists(OUT_DB), "nothing may be written on a source error"
    message = str(err.value)
    assert "\n" not in message
    return message


def test_a_clean_dimension_copy_runs(spark, mysql_copy):
    run_job(RunConfig(job="tests.bad_dimension", ds=DS), spark)
    rows = spark.table(_NATIONS.name).collect()
    assert len(rows) == 25 and {r.n_name for r in rows if r.n_nationkey == 7} == {"GERMANY"}


def test_a_duplicated_dimension_key_fails_before_anything_is_written(spark, mysql_copy):
    mysql_copy.execute(f"INSERT INTO {SOURCE_DB}.nation SELECT * FROM tpch.nation WHERE n_nationkey = 7")
    message = _fails_and_writes_nothing(spark, "tests.bad_dimension")
    assert f"input mysql 127.0.0.1:{mysql_connection().port}/{SOURCE_DB}.nation breaks the" in message
    assert "duplicate primary key (n_nationkey), e.g. n_nationkey=7" in message


def test_a_null_dimension_key_fails_before_anything_is_written(spark, mysql_copy):
    mysql_copy.execute(f"ALTER TABLE {SOURCE_DB}.nation MODIFY n_nationkey INT NULL")
    mysql_copy.execute(f"INSERT INTO {SOURCE_DB}.nation VALUES (NULL, 'ATLANTIS', 1, 'lost')")
    message = _fails_and_writes_nothing(spark, "tests.bad_dimension")
    assert "column n_nationkey has 1 null(s) but is NOT NULL" in message


def test_mysql_schema_drift_names_every_drifted_column(spark, mysql_copy):
    mysql_copy.execute(f"ALTER TABLE {SOURCE_DB}.nation DROP COLUMN n_comment, MODIFY n_regionkey BIGINT")
    message = _fails_and_writes_nothing(spark, "tests.bad_dimension")
    assert f"{SOURCE_DB}.nation drifted from the {SOURCE_DB}.nation contract" in message
    assert "missing column n_comment string" in message
    assert "column n_regionkey is bigint, contract says int" in message


def test_an_empty_input_replaces_the_partition_with_an_empty_one_and_warns(lake, caplog):
    spark = lake
    spark.sql(f"CREATE DATABASE {SOURCE_DB}")
    frame(spark, "id int, amount double", [(1, 2.5), (2, 4.0)]).write.saveAsTable(_SALES.name)
    run_job(RunConfig(job="tests.sales_copy", ds=DS), spark)
    assert_frame_equal(spark.table(_COPY.name), [(1, 2.5, DS), (2, 4.0, DS)])

    spark.sql(f"TRUNCATE TABLE {_SALES.name}")
    caplog.set_level(logging.WARNING, logger="common.io.warehouse")
    summary = run_job(RunConfig(job="tests.sales_copy", ds=DS), spark)
    assert summary.outputs[0].rows == 0
    assert spark.table(_COPY.name).count() == 0
    assert f"{_COPY.name} ds={DS} is empty: check the ds" in caplog.text


def test_a_future_ds_writes_empty_partitions_and_leaves_the_others(spark, caplog):
    env = Environment("qa", "tests/future-ds")
    caplog.set_level(logging.WARNING, logger="common.io.warehouse")
    try:
        for ds in (DS, "2999-01-01"):
            summary = run_job(RunConfig(job="demo.daily_revenue", ds=ds, env="qa", branch=env.branch), spark)
        assert [o.rows for o in summary.outputs] == [0, 0, 0]
        for output in summary.outputs:
            assert spark.table(output.table).where("ds = '2999-01-01'").count() == 0
            assert spark.table(output.table).where(f"ds = '{DS}'").count() > 0, f"{output.table} lost {DS}"
            assert f"{output.table} ds=2999-01-01 is empty" in caplog.text
    finally:
        spark.sql(f"DROP DATABASE IF EXISTS {env.qa_prefix}demo CASCADE")

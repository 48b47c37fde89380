"""Bad data in the sources, run for real: each fails with a clear error before anything is
written, or has a documented result.

MySQL cases copy tpch.nation and tpch.region into a scratch MariaDB database and break the
copy; the job reads the copies as the real TPC-H tables are declared (their contract, store and
`check_keys` flag, only the database changed), so a dimension that loses its key check fails
here. Warehouse cases use scratch catalog tables. Expected rows come from TPC-H's fixed nation table.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
from pyspark.sql import functions as F

from common.contracts import Column, Contract, Table
from common.environments import Environment
from common.errors import EmptyOutput, SourceError
from common.io.mysql import MysqlReader
from common.job import Job, step
from common.runner import RunConfig, run_job
from common.settings import load_settings
from pyspark_jobs.tpch.tables import NATION, REGION
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
_COPY_ALLOW_EMPTY = replace(_COPY, name=f"{OUT_DB}.sales_or_nothing", allow_empty=True)
_SALES = Table(f"{SOURCE_DB}.sales", Contract((Column("id", "int"), Column("amount", "double"))))


def _copy_of(real: Table) -> Table:
    """The real TPC-H dimension as declared (contract, store, check_keys), in the scratch database."""
    return replace(real, name=f"{SOURCE_DB}.{real.table}")


def _names(nation, region):
    regions = region.select("r_regionkey")
    return nation.join(regions, on=F.col("n_regionkey") == F.col("r_regionkey"), how="left_semi").select(
        "n_nationkey", "n_name"
    )


def _copy(sales):
    return sales


class _Dimension(Job):
    name = "tests.bad_dimension"
    inputs = {"nation": _copy_of(NATION), "region": _copy_of(REGION)}
    outputs = {"nations": _NATIONS}

    def steps(self, p):
        return {"nations": step(_names, "nation", "region")}


class _Sales(Job):
    name = "tests.sales_copy"
    inputs = {"sales": _SALES}
    outputs = {"copied": _COPY}

    def steps(self, p):
        return {"copied": step(_copy, "sales")}


class _SalesOrNothing(_Sales):
    name = "tests.sales_copy_allow_empty"
    outputs = {"copied": _COPY_ALLOW_EMPTY}


@pytest.fixture
def mysql_copy(spark):
    """A cursor on fresh copies of tpch.nation and tpch.region in the scratch MariaDB database
    (no primary keys)."""
    conn = mysql_connection()
    with conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {SOURCE_DB}")
        cur.execute(f"CREATE DATABASE {SOURCE_DB}")
        for table in ("nation", "region"):
            cur.execute(f"CREATE TABLE {SOURCE_DB}.{table} AS SELECT * FROM tpch.{table}")
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


def test_the_tpch_dimensions_are_the_ones_declared_with_key_checks():
    assert NATION.check_keys and REGION.check_keys
    assert _Dimension.inputs["nation"].check_keys and _Dimension.inputs["region"].check_keys


@pytest.mark.parametrize(("table", "key", "value"), [("nation", "n_nationkey", 7), ("region", "r_regionkey", 3)])
def test_a_duplicated_dimension_key_fails_before_anything_is_written(spark, mysql_copy, table, key, value):
    mysql_copy.execute(f"INSERT INTO {SOURCE_DB}.{table} SELECT * FROM tpch.{table} WHERE {key} = {value}")
    message = _fails_and_writes_nothing(spark, "tests.bad_dimension")
    assert f"input mysql 127.0.0.1:{mysql_connection().port}/{SOURCE_DB}.{table} breaks the" in message
    assert f"duplicate primary key ({key}), e.g. {key}={value}" in message


def test_a_null_dimension_key_fails_before_anything_is_written(spark, mysql_copy):
    mysql_copy.execute(f"ALTER TABLE {SOURCE_DB}.nation MODIFY n_nationkey INT NULL")
    mysql_copy.execute(f"INSERT INTO {SOURCE_DB}.nation VALUES (NULL, 'ATLANTIS', 1, 'lost')")
    message = _fails_and_writes_nothing(spark, "tests.bad_dimension")
    assert "column n_nationkey has 1 null(s) but is NOT NULL" in message


def test_an_extra_mysql_column_is_ignored(spark, mysql_copy):
    mysql_copy.execute(f"ALTER TABLE {SOURCE_DB}.nation ADD COLUMN n_extra INT NOT NULL DEFAULT 1 AFTER n_name")
    # the read is the contract's columns in its order, without the new one
    df, _ = MysqlReader(load_settings().mysql).read(spark, _copy_of(NATION))
    assert df.columns == list(NATION.contract.names)
    assert_frame_equal(df.where("n_nationkey = 7").select("n_nationkey", "n_name", "n_regionkey"), [(7, "GERMANY", 3)])
    run_job(RunConfig(job="tests.bad_dimension", ds=DS), spark)
    assert_frame_equal(spark.table(_NATIONS.name).where("n_nationkey IN (7, 8)"),
                       [(7, "GERMANY", DS), (8, "INDIA", DS)])


def test_mysql_schema_drift_names_every_drifted_column(spark, mysql_copy):
    mysql_copy.execute(f"ALTER TABLE {SOURCE_DB}.nation DROP COLUMN n_comment, MODIFY n_regionkey BIGINT")
    message = _fails_and_writes_nothing(spark, "tests.bad_dimension")
    assert f"{SOURCE_DB}.nation drifted from the {SOURCE_DB}.nation contract" in message
    assert "missing column n_comment string" in message
    assert "column n_regionkey is bigint, contract says int" in message


def test_an_empty_input_fails_the_run_and_keeps_the_previous_version(lake):
    spark = lake
    spark.sql(f"CREATE DATABASE {SOURCE_DB}")
    frame(spark, "id int, amount double", [(1, 2.5), (2, 4.0)]).write.saveAsTable(_SALES.name)
    run_job(RunConfig(job="tests.sales_copy", ds=DS), spark)
    assert_frame_equal(spark.table(_COPY.name), [(1, 2.5, DS), (2, 4.0, DS)])

    spark.sql(f"TRUNCATE TABLE {_SALES.name}")
    with pytest.raises(EmptyOutput) as err:
        run_job(RunConfig(job="tests.sales_copy", ds=DS), spark)
    assert str(err.value).startswith(f"{_COPY.name} ds={DS}: the run produced no rows, so no output of it was published")
    assert "allow_empty=True" in str(err.value) and "\n" not in str(err.value)
    assert_frame_equal(spark.table(_COPY.name), [(1, 2.5, DS), (2, 4.0, DS)])


def test_an_output_that_allows_empty_days_is_replaced_by_an_empty_partition_with_a_warning(lake, caplog):
    spark = lake
    spark.sql(f"CREATE DATABASE {SOURCE_DB}")
    frame(spark, "id int, amount double", [(1, 2.5)]).write.saveAsTable(_SALES.name)
    run_job(RunConfig(job="tests.sales_copy_allow_empty", ds=DS), spark)
    assert_frame_equal(spark.table(_COPY_ALLOW_EMPTY.name), [(1, 2.5, DS)])

    spark.sql(f"TRUNCATE TABLE {_SALES.name}")
    caplog.set_level(logging.WARNING, logger="common.io.warehouse")
    summary = run_job(RunConfig(job="tests.sales_copy_allow_empty", ds=DS), spark)
    assert summary.outputs[0].rows == 0
    assert spark.table(_COPY_ALLOW_EMPTY.name).count() == 0
    assert f"{_COPY_ALLOW_EMPTY.name} ds={DS} is empty: check the ds" in caplog.text


def test_a_future_ds_fails_and_publishes_nothing(spark):
    """A daily run for a day whose data has not arrived must not publish empty partitions."""
    env = Environment("qa", "tests/future-ds")
    try:
        run_job(RunConfig(job="demo.daily_revenue", ds=DS, env="qa", branch=env.branch), spark)
        outputs = [f"{env.qa_prefix}demo.{t}" for t in ("revenue_by_segment", "top_customers", "revenue_by_shipmode")]
        before = {t: spark.table(t).count() for t in outputs}
        assert all(before.values())
        with pytest.raises(EmptyOutput, match="ds=2999-01-01: the run produced no rows"):
            run_job(RunConfig(job="demo.daily_revenue", ds="2999-01-01", env="qa", branch=env.branch), spark)
        for table in outputs:
            assert spark.table(table).where("ds = '2999-01-01'").count() == 0
            assert spark.table(table).count() == before[table], f"{table} changed"
    finally:
        spark.sql(f"DROP DATABASE IF EXISTS {env.qa_prefix}demo CASCADE")

"""MySQL over JDBC against the real MariaDB: parallel split, pushdown, clear failures, timeouts, fetch size."""

from __future__ import annotations

import dataclasses
import gc
import socket
import time
import uuid

import pytest
from pyspark.sql import functions as F

from common.contracts import Column, Contract, Table
from common.errors import ConfigError, SourceError
from common.io.mysql import MysqlReader, read_interrupted
from common.settings import load_settings
from pyspark_jobs.tpch.tables import CUSTOMER, NATION
from tests.helpers import mysql_connection

pytestmark = pytest.mark.services


def _reader(**kw) -> MysqlReader:
    settings = load_settings()
    return MysqlReader(settings.mysql, **kw)


def test_read_is_split_into_partitions_on_the_key(spark):
    df, where = _reader(partitions=4).read(spark, CUSTOMER)
    assert df.rdd.getNumPartitions() == 4
    assert df.count() == 1500  # TPC-H customer at SF0.01
    assert df.select("c_custkey").distinct().count() == 1500


def test_filters_and_columns_are_pushed_down(spark):
    df, _ = _reader().read(spark, CUSTOMER)
    query = df.filter(F.col("c_mktsegment") == "BUILDING").select("c_custkey")
    plan = query._jdf.queryExecution().executedPlan().toString()
    assert "PushedFilters: [*IsNotNull(c_mktsegment), *EqualTo(c_mktsegment,BUILDING)]" in plan
    assert "ReadSchema: struct<c_custkey:int>" in plan


def test_small_tables_use_no_more_partitions_than_keys(spark):
    df, _ = _reader(partitions=64).read(spark, NATION)
    assert df.rdd.getNumPartitions() == 25
    assert df.count() == 25


def test_unreachable_mysql_fails_fast_with_one_clear_line(spark):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there
    settings = load_settings()
    reader = MysqlReader(dataclasses.replace(settings.mysql, port=port))
    with pytest.raises(SourceError) as err:
        reader.read(spark, CUSTOMER)
    message = str(err.value)
    assert f"cannot read mysql 127.0.0.1:{port}/tpch.customer: Communications link failure" in message
    assert "\n" not in message
    assert settings.mysql.password not in message and settings.mysql.password not in repr(reader)


def _url(df) -> str:
    """The JDBC URL the read of `df` uses (the relation keeps it; the plan string does not)."""
    return df._jdf.queryExecution().analyzed().collectLeaves().head().relation().jdbcOptions().url()


def test_small_partitions_are_fetched_whole_and_big_ones_stream_through_a_cursor(spark):
    with mysql_connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM customer")
        (rows,) = cur.fetchone()
    whole, _ = _reader(partitions=4, stream_rows=rows).read(spark, CUSTOMER)
    streamed, _ = _reader(partitions=4, stream_rows=rows // 8).read(spark, CUSTOMER)
    assert "useCursorFetch" not in _url(whole) and "useCursorFetch=true" in _url(streamed)
    assert whole.count() == streamed.count() == rows


# --- Timeouts and fetch size ---------------------------------------------------------------------

SLOW_DB = f"pj_slow_{uuid.uuid4().hex[:6]}"
SLOW_ROWS = 20
# Each row of the view sleeps 0.15 s, so a read of all of it takes 3 s: past a 1 s timeout.
SLOW_VIEW = Table(f"{SLOW_DB}.slow", Contract((Column("k", "int"), Column("v", "int"), Column("s", "int"))),
                  store="mysql")
LOCKED = Table(f"{SLOW_DB}.t", Contract((Column("k", "int", nullable=False), Column("v", "int")), primary_key=("k",)),
               store="mysql")


@pytest.fixture(scope="module")
def slow_database():
    conn = mysql_connection()
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {SLOW_DB}")
        cur.execute(f"CREATE TABLE {SLOW_DB}.t (k INT PRIMARY KEY, v INT)")
        cur.executemany(f"INSERT INTO {SLOW_DB}.t VALUES (%s, %s)", [(k, k) for k in range(SLOW_ROWS)])
        cur.execute(f"CREATE VIEW {SLOW_DB}.slow AS SELECT k, v, SLEEP(0.15) AS s FROM {SLOW_DB}.t")
    yield SLOW_DB
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE {SLOW_DB}")
    conn.close()


def _mysql(**timeouts: int):
    return dataclasses.replace(load_settings().mysql, **timeouts)


def _failure_of_a_task(df) -> SourceError:
    """The one line the CLI prints for the Spark job that collecting `df` fails."""
    with pytest.raises(Exception) as failed:  # noqa: PT011 - a Py4JJavaError from the failed Spark job
        df.collect()
    error = read_interrupted(failed.value, load_settings().mysql)
    assert error is not None, str(failed.value)[:2000]
    return error


def test_a_statement_past_the_query_timeout_fails_in_one_line_naming_the_table_and_setting(spark, slow_database):
    gc.collect()  # DataFrames of earlier tests no longer count as reads in use
    df, where = MysqlReader(_mysql(query_timeout=1)).read(spark, SLOW_VIEW)
    started = time.monotonic()
    message = str(_failure_of_a_task(df))
    assert time.monotonic() - started < 2.5  # cancelled at 1 s, not after the 3 s the rows take
    assert message.startswith(
        f"reading mysql 127.0.0.1:{load_settings().mysql.port}/{SLOW_DB}.slow timed out: a statement ran longer "
        "than the query timeout and MySQL cancelled it (1 s, PYSPARK_JOBS_MYSQL_QUERY_TIMEOUT); raise it"
    ), message
    assert "\n" not in message and load_settings().mysql.password not in message


def test_a_silent_socket_past_the_socket_timeout_fails_in_one_line_naming_the_table_and_setting(spark, slow_database):
    gc.collect()
    df, _ = MysqlReader(_mysql(query_timeout=30, socket_timeout=1)).read(spark, SLOW_VIEW)
    message = str(_failure_of_a_task(df))
    assert message.startswith(
        f"reading mysql 127.0.0.1:{load_settings().mysql.port}/{SLOW_DB}.slow timed out: MySQL sent nothing for "
        "longer than the socket timeout (1 s, PYSPARK_JOBS_MYSQL_SOCKET_TIMEOUT)"
    ), message
    assert "\n" not in message


def test_a_locked_table_times_out_in_read_itself_in_one_line(spark, slow_database):
    """LOCK TABLES ... WRITE in another session: the bounds query waits on the lock until the
    query timeout cancels it, and read() raises before any Spark job."""
    locker = mysql_connection(SLOW_DB)
    try:
        with locker.cursor() as cur:
            cur.execute("LOCK TABLES t WRITE")
        with pytest.raises(SourceError) as err:
            MysqlReader(_mysql(query_timeout=1), partitions=2).read(spark, LOCKED)
    finally:
        locker.close()  # releases the lock
    message = str(err.value)
    assert message.startswith(f"reading mysql 127.0.0.1:{load_settings().mysql.port}/{SLOW_DB}.t timed out: a "
                              "statement ran longer than the query timeout and MySQL cancelled it (1 s, "
                              "PYSPARK_JOBS_MYSQL_QUERY_TIMEOUT); raise it if the table is this slow to read, or "
                              "find what holds a lock on it"), message
    assert "\n" not in message


def _jdbc_options(df):
    return df._jdf.queryExecution().analyzed().collectLeaves().head().relation().jdbcOptions()


def test_timeouts_and_the_fetch_size_reach_every_statement_and_a_table_can_set_its_fetch_size(spark):
    mysql = _mysql(connect_timeout=7, query_timeout=11, socket_timeout=13)
    default, _ = MysqlReader(mysql, fetch_size=500).read(spark, CUSTOMER)
    own, _ = MysqlReader(mysql, fetch_size=500).read(spark, dataclasses.replace(CUSTOMER, fetch_size=20))
    options = _jdbc_options(default)
    assert options.queryTimeout() == 11
    assert "connectTimeout=7000" in options.url() and "socketTimeout=13000" in options.url()
    assert (options.fetchSize(), _jdbc_options(own).fetchSize()) == (500, 20)


def test_the_timeouts_come_from_the_settings_per_source_with_the_socket_above_the_query(tmp_path):
    def settings(**env: str):
        return load_settings({"PYSPARK_JOBS_HOME": str(tmp_path), "PYSPARK_JOBS_PROFILE": str(tmp_path / "none"),
                              "PYSPARK_JOBS_MYSQL_PASSWORD": "p", "PYSPARK_JOBS_MYSQL_CRM_HOST": "crm",
                              "PYSPARK_JOBS_MYSQL_CRM_USER": "u",
                              "PYSPARK_JOBS_MYSQL_CRM_PASSWORD": "p", "PYSPARK_JOBS_MYSQL_CRM_DATABASE": "crm",
                              **{f"PYSPARK_JOBS_{k}": v for k, v in env.items()}})

    defaults = settings().mysql
    assert (defaults.connect_timeout, defaults.query_timeout, defaults.socket_timeout) == (5, 3600, 3900)
    changed = settings(MYSQL_QUERY_TIMEOUT="7200", MYSQL_CRM_SOCKET_TIMEOUT="60")
    assert (changed.mysql.query_timeout, changed.mysql.socket_timeout) == (7200, 7500)
    assert changed.mysql_source().query_timeout == 7200
    crm = changed.mysql_source("crm")
    assert (crm.query_timeout, crm.socket_timeout, crm.setting("QUERY_TIMEOUT")) == (
        3600, 60, "PYSPARK_JOBS_MYSQL_CRM_QUERY_TIMEOUT")
    for bad in ("0", "-5", "1.5", "soon"):
        with pytest.raises(ConfigError, match=rf"PYSPARK_JOBS_MYSQL_QUERY_TIMEOUT='{bad}': give a whole number of "
                                              "seconds above 0"):
            settings(MYSQL_QUERY_TIMEOUT=bad)


def test_a_fetch_size_is_a_positive_whole_number_on_mysql_tables_only():
    assert dataclasses.replace(CUSTOMER, fetch_size=1).fetch_size == 1
    for bad in (0, -10, 2.5, True, "100"):
        with pytest.raises(ValueError, match=r"table tpch.customer: fetch_size is rows per round trip: a whole "
                                             "number above 0, not "):
            dataclasses.replace(CUSTOMER, fetch_size=bad)
    with pytest.raises(ValueError, match=r"table x.y: fetch_size applies to MySQL tables only \(store 'mysql' or "
                                         r"'mysql:<source>'\), not to store 'warehouse'"):
        Table("x.y", Contract((Column("a", "int"),)), fetch_size=100)

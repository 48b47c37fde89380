"""MySQL over JDBC against the real MariaDB: parallel split, pushdown, clear failures."""

from __future__ import annotations

import dataclasses
import socket

import pytest
from pyspark.sql import functions as F

from common.errors import SourceError
from common.io.mysql import MysqlReader
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

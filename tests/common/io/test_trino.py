"""The Trino source: query building (no server), then against the real local Trino: the tpch
connector's data equals tpchgen-cli's, job results equal the lake run, samples keep joins,
the cache serves reruns with Trino unreachable, and each failure is one clear line."""

from __future__ import annotations

import dataclasses
import http.server
import os
import re
import socket
import ssl
import subprocess
import threading
import uuid
from decimal import Decimal

import pytest

from common.contracts import Column, Contract, Table
from common.errors import ConfigError, SourceError
from common.io.trino import SAMPLE_BUCKETS, TableMap, TrinoReader, build_query
from common.settings import TrinoSettings, load_settings
from pyspark_jobs.tpch.tables import CUSTOMER, LINEITEM, ORDERS, PART, PARTSUPP
from tests.helpers import assert_frame_equal, drop_qa_databases

SECRET = "s3cret-Pa55word"
PORT = int(os.environ.get("PYSPARK_JOBS_TRINO_PORT", "18080"))  # what `make services` starts it on
LOCAL = TrinoSettings(host="127.0.0.1", port=PORT, user="tester", table_map="tpch.*=tpch.tiny.*")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again on exit: nothing listens there


def _reader(tmp_path, trino: TrinoSettings | None = None, **options) -> TrinoReader:
    trino = trino or dataclasses.replace(load_settings().trino)
    return TrinoReader(trino=trino, cache_dir=tmp_path / "cache", **options)


# -- planning: no server needed ----------------------------------------------------------------


def test_table_map_exact_entries_win_over_wildcards():
    mapping = TableMap.parse("tpch.*=tpch.tiny.*, tpch.lineitem=memory.tpch.lineitem")
    assert mapping.resolve("tpch.lineitem") == "memory.tpch.lineitem"
    assert mapping.resolve("tpch.orders") == "tpch.tiny.orders"
    assert mapping.resolve("sales.orders") is None


def test_a_catalog_wide_entry_reads_every_other_table_as_catalog_db_table():
    mapping = TableMap.parse("*.*=lake.*.*, tpch.*=tpch.tiny.*, sales.orders=memory.s.o")
    assert mapping.resolve("crm.accounts") == "lake.crm.accounts"
    assert mapping.resolve("tpch.orders") == "tpch.tiny.orders"
    assert mapping.resolve("sales.orders") == "memory.s.o"
    assert mapping.resolve("sales.lines") == "lake.sales.lines"


@pytest.mark.parametrize("spec", ["tpch.lineitem", "tpch.*=tpch.tiny.lineitem", "tpch.lineitem=tiny.lineitem", "*.*=lake.*", "*.*=lake.tpch.*"])
def test_bad_table_map_entry_names_the_setting(spec):
    with pytest.raises(ConfigError, match="PYSPARK_JOBS_TRINO_TABLES: bad entry"):
        TableMap.parse(spec)


def test_unmapped_input_says_how_to_map_it(tmp_path):
    reader = _reader(tmp_path, dataclasses.replace(LOCAL, table_map="sales.*=memory.sales.*"))
    with pytest.raises(ConfigError, match=r"add 'tpch.orders=catalog.schema.table' or 'tpch.\*=catalog.schema.\*'"):
        reader.query(ORDERS)


def test_query_selects_contract_columns_cast_to_contract_types():
    query = build_query(ORDERS, "tpch.tiny.orders")
    assert query.startswith('SELECT\n  CAST("o_orderkey" AS bigint) AS "o_orderkey",')
    assert 'CAST("o_totalprice" AS decimal(15,2)) AS "o_totalprice"' in query
    assert 'CAST("o_orderdate" AS date) AS "o_orderdate"' in query
    assert '\n  "o_comment"\nFROM "tpch"."tiny"."orders"' in query  # strings as stored
    assert "*" not in query and "WHERE" not in query


def test_sample_predicate_is_the_same_threshold_on_each_tables_key(tmp_path):
    reader = _reader(tmp_path, LOCAL, sample_pct=2.5)
    lines, orders = reader.query(LINEITEM), reader.query(ORDERS)
    threshold = f"% {SAMPLE_BUCKETS} < {int(SAMPLE_BUCKETS * 0.025)}"
    assert 'xxhash64(to_big_endian_64(CAST("l_orderkey" AS bigint)))' in lines and threshold in lines
    assert 'xxhash64(to_big_endian_64(CAST("o_orderkey" AS bigint)))' in orders and threshold in orders


def test_sample_rows_threshold_is_computed_by_trino_so_the_query_is_known_offline(tmp_path):
    query = _reader(tmp_path, LOCAL, sample_rows=1000).query(LINEITEM)
    threshold = f"(SELECT least({SAMPLE_BUCKETS}, CAST({SAMPLE_BUCKETS} AS bigint) * 1000 / greatest(count(*), 1))"
    assert f'{threshold} FROM "tpch"."tiny"."lineitem")' in query


def test_sample_keys_and_filters(tmp_path):
    reader = _reader(
        tmp_path, LOCAL, sample_pct=10, sample_keys="tpch.part=-,tpch.partsupp=ps_suppkey",
        filters={"tpch.orders": "o_orderdate >= DATE '1995-01-01'"},
    )
    assert reader.sample_key(PART) is None and "WHERE" not in reader.query(PART)
    assert reader.sample_key(PARTSUPP) == "ps_suppkey"
    assert reader.sample_key(ORDERS) == "o_orderkey"  # default: the first primary-key column
    assert "WHERE (o_orderdate >= DATE '1995-01-01')\n  AND bitwise_and(" in reader.query(ORDERS)
    with pytest.raises(ConfigError, match="sample key 'nope' of tpch.orders is not one of its columns"):
        _reader(tmp_path, LOCAL, sample_pct=10, sample_keys="tpch.orders=nope").query(ORDERS)


def test_mysql_inputs_use_jdbc_unless_configured(tmp_path):
    assert not _reader(tmp_path, LOCAL).handles(CUSTOMER)
    via_trino = _reader(tmp_path, LOCAL, mysql_via="trino")
    assert via_trino.handles(CUSTOMER) and via_trino.source(CUSTOMER) == "mysql.tpch.customer"


def test_credentials_stay_out_of_repr_and_need_https(tmp_path):
    https = dataclasses.replace(LOCAL, http_scheme="https", password=SECRET)
    reader = _reader(tmp_path, https)
    assert SECRET not in repr(reader) and "auth=password" in repr(reader)
    assert SECRET not in repr(https) and SECRET not in repr(dataclasses.replace(LOCAL, jwt=SECRET))
    with pytest.raises(ConfigError, match="accepts a password or JWT over HTTPS only") as err:
        _reader(tmp_path, dataclasses.replace(LOCAL, password=SECRET))
    assert SECRET not in str(err.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"sample_rows": 10, "sample_pct": 5}, "not both"),
        ({"sample_pct": 0}, r"must be in \(0, 100\]"),
        ({"sample_rows": -1}, "must be positive"),
    ],
)
def test_bad_sample_options(tmp_path, options, message):
    with pytest.raises(ConfigError, match=message):
        _reader(tmp_path, LOCAL, **options)


# -- against the real Trino ------------------------------------------------------------------

services = pytest.mark.services

# Checksum-like aggregates computed independently on both sides: Trino's own SQL over its
# tpch connector, Spark SQL over the warehouse tables that tpchgen-cli's parquet was loaded into.
AGGREGATES = {
    "lineitem": "count(*), sum(l_orderkey), sum(l_partkey * l_linenumber), sum(l_suppkey), "
                "sum({m}(l_quantity)), sum({m}(l_extendedprice)), sum({m}(l_discount)), sum({m}(l_tax)), "
                "min(l_shipdate), max(l_receiptdate), sum(length(l_comment)), "
                "count(DISTINCT l_shipmode || l_returnflag || l_linestatus)",
    "orders": "count(*), sum(o_orderkey), sum(o_custkey), sum({m}(o_totalprice)), min(o_orderdate), "
              "max(o_orderdate), sum(length(o_comment)), sum(length(o_clerk)), count(DISTINCT o_orderpriority)",
    "part": "count(*), sum(p_partkey), sum({m}(p_retailprice)), sum(p_size), sum(length(p_name)), "
            "sum(length(p_comment))",
    "partsupp": "count(*), sum(ps_partkey * ps_suppkey), sum(ps_availqty), sum({m}(ps_supplycost)), "
                "sum(length(ps_comment))",
}  # fmt: skip
MONEY = "CAST({} AS decimal(15,2))"


def _trino_rows(sql: str) -> list[tuple]:
    import trino

    t = load_settings().trino
    cursor = trino.dbapi.connect(host=t.host, port=t.port, user=t.user).cursor()
    cursor.execute(sql)
    return [tuple(r) for r in cursor.fetchall()]


@services
@pytest.mark.parametrize("name", sorted(AGGREGATES))
def test_trino_tpch_tiny_equals_tpchgen_data_in_the_warehouse(spark, name):
    """The check the Trino-backed run rests on: the tpch connector's `tiny` schema holds the
    same SF0.01 data as tpchgen-cli. Its money columns are DOUBLE; cast to decimal(15,2) they equal."""
    sql = _with_money(AGGREGATES[name])
    (theirs,) = _trino_rows(f"SELECT {sql} FROM tpch.tiny.{name}")
    ours = tuple(spark.sql(f"SELECT {sql} FROM tpch.{name}").first())
    assert theirs == ours


def _with_money(template: str) -> str:
    return re.sub(r"\{m\}\((\w+)\)", lambda m: MONEY.format(m.group(1)), template)


@services
def test_orders_are_equal_row_for_row(spark, tmp_path):
    reader = _reader(tmp_path)
    df, where = reader.read(spark, ORDERS)
    assert where.startswith("trino tpch.tiny.orders, fetched 15000 rows in ")
    assert [(f.name, f.dataType.simpleString()) for f in df.schema] == [
        (c.name, c.type) for c in ORDERS.contract.columns
    ]
    assert_frame_equal(df, spark.table("tpch.orders"))


def _run(job: str, branch: str, **config):
    from common.runner import RunConfig, run_job

    return run_job(RunConfig(job=job, ds="1995-03-15", env="qa", branch=branch, **config))


@pytest.fixture
def qa_branches(spark):
    """Unique qa branches: their outputs land in their own namespaces, dropped afterwards."""
    names = []

    def make(label: str) -> str:
        names.append(f"pj-trino-{label}-{uuid.uuid4().hex[:6]}")
        return names[-1]

    yield make
    for name in names:
        drop_qa_databases(spark, name)


def _outputs(spark, summary) -> dict[str, list]:
    return {out.table.split("__")[-1]: spark.table(out.table).collect() for out in summary.outputs}


@services
@pytest.mark.parametrize("job", ["demo.daily_revenue", "tpch.q03"])
def test_trino_run_equals_lake_run_and_reruns_from_cache_without_trino(spark, tmp_path, qa_branches, monkeypatch, job):
    cache = {"cache_dir": tmp_path / "cache"}
    lake = _run(job, qa_branches("lake"))
    first = _run(job, qa_branches("trino"), source="trino", source_options=cache)
    fetched = {alias: where for alias, where, _ in first.inputs if where.startswith("trino ")}
    assert "lineitem" in fetched and all(", fetched " in w for w in fetched.values())
    expected = _outputs(spark, lake)
    assert _outputs(spark, first).keys() == expected.keys()
    for name, rows in _outputs(spark, first).items():
        assert rows, f"{name} is empty: pick a ds with data"
        assert_frame_equal(spark.createDataFrame(rows), spark.createDataFrame(expected[name]))

    monkeypatch.setenv("PYSPARK_JOBS_TRINO_PORT", str(_closed_port()))  # nothing listens: no Trino contact
    rerun = _run(job, qa_branches("cached"), source="trino", source_options=cache)
    cached = {alias: where for alias, where, _ in rerun.inputs if where.startswith("trino ")}
    assert cached.keys() == fetched.keys() and all(", from cache " in w for w in cached.values())
    for name, rows in _outputs(spark, rerun).items():
        assert_frame_equal(spark.createDataFrame(rows), spark.createDataFrame(expected[name]))


@services
@pytest.mark.parametrize("option", [{"sample_pct": 10}, {"sample_rows": 3000}])
def test_sample_keeps_every_sampled_lines_order(spark, tmp_path, option):
    reader = _reader(tmp_path, **option)
    lines, lines_where = reader.read(spark, LINEITEM)
    orders, _ = reader.read(spark, ORDERS)
    n_lines, n_orders = lines.count(), orders.count()
    orphans = lines.join(orders, lines["l_orderkey"] == orders["o_orderkey"], how="left_anti").count()
    assert orphans == 0  # every sampled line's order is in the sampled orders
    if "sample_pct" in option:
        assert "sample 10% on l_orderkey" in lines_where
        assert 4_500 < n_lines < 7_500 and 1_100 < n_orders < 1_900  # ~10% of 60175 and 15000
        # same keys on both sides: the lines are all the lines of the sampled orders
        assert lines.select("l_orderkey").distinct().count() == n_orders
    else:
        assert "sample ~3000 rows on l_orderkey" in lines_where
        assert 2_400 < n_lines < 3_600 and 2_400 < n_orders < 3_600


@services
def test_sampled_run_from_the_cli_prints_where_inputs_came_from(tmp_path, qa_branches, capsys):
    from common.cli import main

    branch = qa_branches("sampled")
    argv = ["run", "tpch.q03", "--ds", "1995-03-15", "--env", "qa", "--branch", branch,
            "--source", "trino", "--sample-pct", "20"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "input  lineitem       trino tpch.tiny.lineitem sample 20% on l_orderkey, " in out
    assert "input  orders         trino tpch.tiny.orders sample 20% on o_orderkey, " in out
    assert "input  customer       mysql " in out  # MySQL inputs stay on JDBC by default


@services
def test_refresh_fetches_again_and_a_failed_fetch_leaves_no_cache(spark, tmp_path, monkeypatch):
    import common.io.trino as module

    reader = _reader(tmp_path, sample_pct=5)
    _, where = reader.read(spark, ORDERS)
    assert ", fetched " in where
    assert ", from cache " in reader.read(spark, ORDERS)[1]
    refreshing = _reader(tmp_path, sample_pct=5, refresh=True, batch_rows=100)
    calls = []

    def fail_on_third_batch(*args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # as if the run were killed mid-fetch
        return real(*args)

    real = module._to_arrow
    monkeypatch.setattr(module, "_to_arrow", fail_on_third_batch)
    with pytest.raises(KeyboardInterrupt):
        refreshing.read(spark, ORDERS)
    monkeypatch.setattr(module, "_to_arrow", real)
    entries = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert len(entries) == 1 and not entries[0].startswith(".")  # the old entry, no temp dir
    assert ", fetched " in refreshing.read(spark, ORDERS)[1]
    assert ", from cache " in reader.read(spark, ORDERS)[1]


# -- failures: one clear line each -------------------------------------------------------------


def _one_line_error(reader: TrinoReader, spark, table: Table = ORDERS) -> str:
    with pytest.raises(SourceError) as err:
        reader.read(spark, table)
    message = str(err.value)
    assert "\n" not in message and SECRET not in message
    return message


@services
def test_trino_down(spark, tmp_path):
    port = _closed_port()
    message = _one_line_error(_reader(tmp_path, dataclasses.replace(load_settings().trino, port=port)), spark)
    assert message.startswith(f"cannot reach Trino at 127.0.0.1:{port}: connection refused; start it with 'make ")
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


@services
def test_table_trino_does_not_have(spark, tmp_path):
    trino = dataclasses.replace(load_settings().trino, table_map="tpch.orders=tpch.tiny.no_such_table")
    message = _one_line_error(_reader(tmp_path, trino), spark)
    assert message.startswith(f"Trino at 127.0.0.1:{PORT} has no table tpch.tiny.no_such_table (input tpch.orders")


@services
def test_mysql_through_trino_without_a_mysql_catalog_is_one_line(spark, tmp_path):
    message = _one_line_error(_reader(tmp_path, mysql_via="trino"), spark, CUSTOMER)
    assert "has no table mysql.tpch.customer" in message and "Catalog 'mysql' not found" in message


@services
def test_password_to_an_http_only_server_fails_the_tls_handshake(spark, tmp_path):
    """The local Trino's HTTP port speaks plain HTTP and takes any user without a password: a
    password is only ever sent over HTTPS, so pointing https at it fails before any credential."""
    trino = dataclasses.replace(load_settings().trino, http_scheme="https", password=SECRET)
    message = _one_line_error(_reader(tmp_path, trino), spark)
    assert message.startswith(f"cannot reach Trino at https://127.0.0.1:{PORT}: TLS handshake failed")


@pytest.fixture
def https_401(tmp_path):
    """An HTTPS server that answers every request as a password-protected Trino does to bad
    credentials: 401 with a Basic challenge. Its self-signed certificate is the CA to trust."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            seen.append(self.headers.get("Authorization", ""))
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="Trino"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], str(cert), seen
    server.shutdown()


def test_bad_credentials_get_a_401(spark, tmp_path, https_401, monkeypatch):
    port, ca, seen = https_401
    for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # requests lets these override verify=
        monkeypatch.delenv(var, raising=False)
    trino = dataclasses.replace(LOCAL, port=port, http_scheme="https", password=SECRET)
    message = _one_line_error(_reader(tmp_path, trino, verify=ca), spark)
    assert message.startswith(f"Trino at https://127.0.0.1:{port} refused user 'tester' (HTTP 401): check ")
    assert seen and seen[0].startswith("Basic ")  # the password went, over TLS only


@services
def test_the_local_https_port_reads_with_the_password_and_refuses_a_wrong_one(spark, tmp_path, monkeypatch):
    """`make services` serves HTTPS with a password (self-signed certificate, PBKDF2 password file):
    PYSPARK_JOBS_TRINO_HTTP_SCHEME=https is all a run needs to read through it."""
    import certifi

    # requests lets REQUESTS_CA_BUNDLE replace a session's CA: the configured certificate must win.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    monkeypatch.setenv("PYSPARK_JOBS_TRINO_HTTP_SCHEME", "https")
    settings = load_settings()
    trino = settings.trino
    assert trino.password and trino.ca_bundle, "make services writes the Trino HTTPS password and certificate"
    reader = TrinoReader.from_settings(settings, cache_dir=tmp_path / "cache")
    assert reader.server == f"https://127.0.0.1:{trino.port}" and "auth=password" in repr(reader)
    df, where = reader.read(spark, PART)
    assert df.count() == 2000 and "fetched 2000 rows" in where

    # Fresh caches: a cached query would not contact Trino at all.
    wrong = _reader(tmp_path / "wrong", dataclasses.replace(trino, password=SECRET), verify=trino.ca_bundle)
    message = _one_line_error(wrong, spark, PART)
    assert message.startswith(f"Trino at https://127.0.0.1:{trino.port} refused user 'pyspark_jobs' (HTTP 401): ")
    untrusted = _one_line_error(_reader(tmp_path / "untrusted", trino), spark, PART)
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted and "PYSPARK_JOBS_TRINO_CA_BUNDLE" in untrusted
    assert trino.password not in message + untrusted


def test_decimal_text_converts_exactly():
    from common.io.trino import _to_arrow

    table = Table("t.money", Contract((Column("amount", "decimal(15,2)"), Column("day", "date"))))
    batch = _to_arrow([["24710.35", "1996-03-13"], [None, None]], table, ["decimal(15,2)", "date"])
    assert batch.column(0).to_pylist() == [Decimal("24710.35"), None]
    assert str(batch.column(1)[0]) == "1996-03-13"

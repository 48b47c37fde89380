"""The one way tests compare DataFrames, with defaults chosen once."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.testing import assertDataFrameEqual

if TYPE_CHECKING:
    from common.contracts import Table
    from common.environments import Environment

__all__ = ["assert_frame_equal", "frame", "table_frame", "run_steps", "partition_location", "D", "day",
           "load_packaging_script", "load_dev_script", "mysql_connection", "put_artifact_stub", "repository_copy", "demo_reports_by_hand",
           "demo_reports_published", "sql_executions", "wait_for", "cli_without_metastore"]

PACKAGING = Path(__file__).resolve().parents[1] / "packaging"
DEV = PACKAGING.parent / "dev"


def assert_frame_equal(actual: DataFrame, expected: DataFrame | list, *, ordered: bool = False) -> None:
    assertDataFrameEqual(actual, expected, checkRowOrder=ordered, rtol=1e-9, atol=1e-9)


def frame(spark: SparkSession, schema: str, rows: list[tuple[Any, ...]]) -> DataFrame:
    """A DataFrame with an explicit DDL schema: `frame(spark, "a int, b string", [(1, "x")])`."""
    return spark.createDataFrame(rows, schema)


# Filler for the columns a hand-built row leaves out (TPC-H columns are NOT NULL).
_FILLER = {"string": "", "int": 0, "bigint": 0, "date": date(1970, 1, 1)}


def table_frame(spark: SparkSession, table: Table, rows: list[dict[str, Any]]) -> DataFrame:
    """A frame with the explicit schema of a table's contract: each row names only the columns a
    test is about; the others get a neutral filler (empty text, zero, 1970-01-01)."""
    columns = table.contract.data_columns
    unknown = {name for row in rows for name in row} - {c.name for c in columns}
    if unknown:
        raise ValueError(f"{table.name} has no column(s) {sorted(unknown)}")
    filler = {c.name: _FILLER.get(c.type, Decimal(0)) for c in columns}
    return spark.createDataFrame([tuple(row.get(n, filler[n]) for n in filler) for row in rows],
                                 table.contract.schema(data_only=True))


def run_steps(job_name: str, frames: dict[str, DataFrame], ds: str, **params: str) -> dict[str, DataFrame]:
    """A job's steps applied to in-memory input frames, as a run wires them (no catalog, no
    write): its outputs by alias. For SqlJobs, the SQL file itself runs over the frames."""
    from common.graph import StepGraph
    from common.registry import get_job

    job_cls = get_job(job_name)
    graph = StepGraph.build(job_name, job_cls().steps(job_cls.parse_params(ds, params)), set(frames),
                            list(job_cls.outputs))
    done = dict(frames)
    for name in graph.order:
        done[name] = graph.steps[name].apply(done)
    return {alias: done[alias] for alias in job_cls.outputs}


def partition_location(spark: SparkSession, physical: str, ds: str) -> str | None:
    """The current version of a table's ds partition, named as the writer's WriteResult.location
    names it (a Hive partition's `run=` directory; an Iceberg table's `db.table@<snapshot>`), None
    if absent."""
    from common.io.table_format import provider
    from common.io.warehouse import partition_exists

    if not spark.catalog.tableExists(physical):
        return None
    spark.catalog.refreshTable(physical)
    if provider(spark, physical) == "iceberg":
        if not partition_exists(spark, physical, "ds", ds):
            return None
        history = spark.sql(f"SELECT snapshot_id FROM {physical}.history WHERE is_current_ancestor "
                            "ORDER BY made_current_at DESC LIMIT 1")
        return f"{physical}@{history.first().snapshot_id}"
    if not spark.sql(f"SHOW PARTITIONS {physical} PARTITION (ds='{ds}')").count():
        return None
    described = spark.sql(f"DESCRIBE TABLE EXTENDED {physical} PARTITION (ds='{ds}')")
    return described.filter("col_name = 'Location'").first()[1]


def data_files(spark: SparkSession, physical: str, ds: str) -> set[str]:
    """The files a read of a table's ds partition scans, whatever the table's format."""
    from pyspark.sql import functions as F

    spark.catalog.refreshTable(physical)
    return {r[0] for r in spark.table(physical).where(F.col("ds") == ds).select(F.input_file_name()).distinct().collect()}


def drop_qa_databases(spark: SparkSession, branch: str) -> None:
    """Drop every qa database of `branch` (a test's own qa namespaces, created by its runs)."""
    from common.environments import Environment

    prefix = Environment("qa", branch).qa_prefix
    for db in spark.catalog.listDatabases():
        if db.name.startswith(prefix):
            spark.sql(f"DROP DATABASE IF EXISTS `{db.name}` CASCADE")


def D(text: str) -> Decimal:
    return Decimal(text)


def day(text: str) -> date:
    return date.fromisoformat(text)


def load_packaging_script(name: str) -> ModuleType:
    """A script of packaging/ as a module: that folder is not a package (it would shadow the
    PyPI `packaging`), so its scripts import each other by path."""
    sys.path.insert(0, str(PACKAGING))
    return _load_script(PACKAGING / f"{name}.py", f"_packaging_{name}")


def load_dev_script(name: str) -> ModuleType:
    """A script of dev/ as a module (dev/ is not a package either): services, the TPC-H loader."""
    return _load_script(DEV / f"{name}.py", f"_dev_{name}")


def _load_script(path: Path, module_name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def mysql_connection(database: str = "tpch"):  # noqa: ANN201 - a pymysql connection
    """The local MariaDB as the project's user (scratch databases must be named pj_*)."""
    import pymysql

    from common.settings import load_settings

    mysql = load_settings().mysql
    return pymysql.connect(
        host=mysql.host, port=mysql.port, user=mysql.user, password=mysql.password, database=database, autocommit=True
    )


def put_artifact_stub(base_uri: str) -> None:
    """Empty objects at every file of an artifact version on the S3 the AWS_* variables reach:
    for tests of the step a run adds, which check that the files exist but never run them."""
    import boto3

    from common.submit import ARTIFACT_FILES

    bucket, _, prefix = base_uri.removeprefix("s3://").partition("/")
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    for name in ARTIFACT_FILES:
        s3.put_object(Bucket=bucket, Key=f"{prefix.rstrip('/')}/{name}", Body=b"")


def trino_rows(query: str) -> list[tuple]:
    """A query's rows from the local Trino (plain HTTP, a user name only)."""
    import trino

    from common.settings import load_settings

    settings = load_settings().trino
    cursor = trino.dbapi.connect(host=settings.host, port=settings.port, user="pyspark-jobs-tests").cursor()
    cursor.execute(query)
    return [tuple(row) for row in cursor.fetchall()]


def repository_copy(target: Path) -> dict[str, str]:
    """The files git tracks copied to `target` (mtimes kept, so make finds the virtualenv up to
    date), the virtualenv linked; returns the environment that runs commands there: its code
    first on PYTHONPATH, this checkout's services and data (PYSPARK_JOBS_VAR)."""
    import os
    import shutil
    import subprocess

    root = PACKAGING.parent
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        if (root / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, target / name)
    (target / ".venv").symlink_to(root / ".venv")
    return {**os.environ, "PATH": f"{root / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": str(target), "PYSPARK_JOBS_HOME": str(target),
            "PYSPARK_JOBS_VAR": os.environ.get("PYSPARK_JOBS_VAR", str(root / "var"))}


def demo_reports_by_hand(spark: SparkSession, days: list[str]) -> dict[str, dict[str, list[tuple]]]:
    """The demonstration job's three reports for each of `days`, computed in plain Python from
    the source rows (TPC-H lines shipped that day, their orders, MySQL's customers and nations):
    per ds, "segment" and "mode" sorted by their keys, "top" by rank."""
    from collections import defaultdict

    from pyspark.sql import functions as F

    wanted = [date.fromisoformat(ds) for ds in days]
    lines = spark.table("tpch.lineitem").filter(F.col("l_shipdate").isin(wanted)).collect()
    keys = {r.l_orderkey for r in lines}
    orders = {r.o_orderkey: r for r in spark.table("tpch.orders").collect() if r.o_orderkey in keys}
    conn = mysql_connection()
    with conn.cursor() as cur:
        cur.execute("SELECT c_custkey, c_name, c_mktsegment, n_name FROM customer JOIN nation ON c_nationkey = n_nationkey")
        customers = {row[0]: row[1:] for row in cur.fetchall()}
    conn.close()
    reports = {}
    for ds, shipped in zip(days, wanted):
        by_segment = defaultdict(lambda: [set(), Decimal(0)])
        by_mode = defaultdict(lambda: [0, Decimal(0)])
        by_customer = defaultdict(Decimal)
        for line in (line for line in lines if line.l_shipdate == shipped):
            order = orders[line.l_orderkey]
            name, segment, nation = customers[order.o_custkey]
            revenue = line.l_extendedprice * (1 - line.l_discount)
            by_segment[(nation, segment)][0].add(order.o_orderkey)
            by_segment[(nation, segment)][1] += revenue
            by_mode[(line.l_shipmode, order.o_orderpriority)][0] += 1
            by_mode[(line.l_shipmode, order.o_orderpriority)][1] += revenue
            by_customer[(order.o_custkey, name, nation)] += revenue
        top = sorted(by_customer.items(), key=lambda kv: (-kv[1], kv[0][0]))[:10]
        reports[ds] = {
            "segment": sorted((n, s, len(o), r) for (n, s), (o, r) in by_segment.items()),
            "mode": sorted((m, p, c, r) for (m, p), (c, r) in by_mode.items()),
            "top": [(i + 1, k[0], k[1], k[2], r) for i, (k, r) in enumerate(top)],
        }
    return reports


def demo_reports_published(spark: SparkSession, env: Environment) -> dict[str, dict[str, list[tuple]]]:
    """What the demonstration job published in `env` (a qa branch's namespace, or the lake's own
    tables), shaped as demo_reports_by_hand gives it: per report, {ds: rows without ds, in order}."""
    from common.registry import get_job

    segment, top, mode = (env.output_name(t) for t in get_job("demo.daily_revenue").outputs.values())
    found = {}
    for report, table, order in (("segment", segment, ["n_name", "c_mktsegment"]), ("top", top, ["rank"]),
                                 ("mode", mode, ["l_shipmode", "o_orderpriority"])):
        days: dict[str, list[tuple]] = {}
        for row in spark.table(table).orderBy("ds", *order).collect():
            days.setdefault(row.ds, []).append(tuple(v for k, v in row.asDict().items() if k != "ds"))
        found[report] = days
    return found


def sql_executions(spark: SparkSession) -> list[dict]:
    """The session's SQL executions as the driver's monitoring REST API lists them (nodes and
    their metrics included), as common/scan_metrics.py reads them."""
    import json
    import urllib.request

    sc = spark.sparkContext
    url = f"{sc.uiWebUrl}/api/v1/applications/{sc.applicationId}/sql?details=true&planDescription=false&length=100000"
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - the driver's own UI
        return json.load(response)


def wait_for(condition: Callable[[], Any], timeout: float = 60.0, *, what: str = "the condition",
             interval: float = 0.2, context: Callable[[], str] | None = None) -> Any:
    """`condition()`'s first truthy value, polled every `interval` seconds; after `timeout`, an
    AssertionError naming `what`, with `context()` (e.g. the logs of the processes waited on)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout:.0f}s" + (context() if context else ""))


def cli_without_metastore(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """`pyspark-jobs ARGS` in a process of its own (the metastore address is read when Spark
    starts) whose metastore is a port nothing listens on: exit code, stderr's last line, stderr."""
    import os
    import subprocess

    from tests.conftest import ROOT

    environ = {**os.environ, "PYSPARK_JOBS_METASTORE_URI": "thrift://127.0.0.1:9", **(env or {})}  # discard port
    done = subprocess.run([sys.executable, "-m", "common.cli", *args], cwd=ROOT, env=environ, capture_output=True,
                          text=True, timeout=300)
    lines = done.stderr.strip().splitlines()
    return done.returncode, lines[-1] if lines else "", done.stderr

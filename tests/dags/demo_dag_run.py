"""One real `airflow dags test` of the demonstration DAG, made once and shared by the tests that
check it (the `demo_dag_run` fixture in tests/conftest.py).

Branch A's QA deployment runs the DAG with the local launcher (spark-submit of the packaged
artifact on local-cluster) while branch B's run of the same SubmitSpec goes through the local
launcher directly: the two runs overlap and share the Hive metastore. Trino is set to HTTPS, so
every process of the run loads both the MySQL and the Trino password
(tests/reliability/test_secrets_everywhere.py reads everything the run printed and left).
Slow: minutes.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common.slug import branch_slug
from common.submit import SubmitSpec
from pyspark_jobs.demo.daily_revenue import DailyRevenue
from tests.helpers import load_packaging_script

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["BRANCHES", "CLUSTER_PYTHON", "DS", "OUTPUTS", "DemoDagRun", "drop_outputs", "namespace", "run_demo_dag",
           "warehouse_state"]

ROOT = Path(__file__).resolve().parents[2]
DS = "1995-03-15"
BRANCHES = ("qa-test/alpha", "qa-test/beta")
OUTPUTS = tuple(t.table for t in DailyRevenue.outputs.values())  # demo.<name>, in either format
CLUSTER_PYTHON = os.environ.get("PYSPARK_JOBS_CLUSTER_PYTHON", "/usr/bin/python3.11")


@dataclass
class DemoDagRun:
    dist: Path  # both branches' artifacts, dist/<slug>/
    airflow_env: dict[str, str]  # the environment `airflow dags test` ran with (AIRFLOW_HOME, ...)
    dag_id: str
    ok: bool
    output: str  # stdout and stderr of `airflow dags test`
    beta: dict[str, Any]  # the local launcher's result for branch B, or {"error": exception}
    beta_log: list[str] = field(default_factory=list)  # branch B's task log lines
    seconds: float = 0.0
    # warehouse_state() right before and right after the two runs
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)


class _Lines(logging.Handler):
    def __init__(self, lines: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def namespace(branch: str) -> str:
    return f"qa_{branch_slug(branch)}__demo"


def warehouse_state(spark: SparkSession) -> dict[str, Any]:
    """The databases of the catalog, and every partition of the demo job's production tables
    and of both branches' namespaces: {table: {ds: (version, sorted rows)}}, the version as
    tests.helpers.partition_location gives it; and each table's own location."""
    from tests.helpers import partition_location

    tables = [f"demo.{t}" for t in OUTPUTS] + [f"{namespace(b)}.{t}" for b in BRANCHES for t in OUTPUTS]
    partitions: dict[str, dict[str, tuple[str | None, list[tuple]]]] = {}
    for name in tables:
        database, table = name.split(".")
        if not (spark.catalog.databaseExists(database) and spark.catalog.tableExists(table, database)):
            continue
        spark.catalog.refreshTable(name)
        days = sorted(row.ds for row in spark.table(name).select("ds").distinct().collect())
        partitions[name] = {
            ds: (partition_location(spark, name, ds), sorted(tuple(r) for r in spark.table(name).where(f"ds = '{ds}'").collect()))
            for ds in days
        }
    from common.io.table_format import described

    return {"databases": {db.name for db in spark.catalog.listDatabases()}, "partitions": partitions,
            "locations": {name: described(spark, name)["Location"] for name in partitions}}


def _production_has_the_ds(spark: SparkSession) -> None:
    """Production's demo partitions of DS exist, so the runs had something of production's to harm."""
    from common.runner import RunConfig, run_job

    state = warehouse_state(spark)["partitions"]
    if any(DS not in state.get(f"demo.{t}", {}) for t in OUTPUTS):
        run_job(RunConfig(job="demo.daily_revenue", ds=DS, count_inputs=False), spark)


def drop_outputs(spark: SparkSession) -> None:
    for branch in BRANCHES:
        spark.sql(f"DROP DATABASE IF EXISTS {namespace(branch)} CASCADE")


def _demo_script():
    spec = importlib.util.spec_from_file_location("_dev_demo", ROOT / "dev" / "demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_demo_dag(spark: SparkSession, dist: Path) -> DemoDagRun:
    """Package both branches into `dist`, then run A's DAG and B's launcher side by side; the
    warehouse is read right before and right after."""
    from pj_airflow.launchers import LocalLauncher  # dags/ is on sys.path (tests/conftest.py)

    demo, build = _demo_script(), load_packaging_script("build")
    for branch in BRANCHES:
        build.build(branch=branch, dist=dist, cluster_python=CLUSTER_PYTHON)

    alpha, beta = BRANCHES
    env = demo.airflow_env(alpha, Path(os.environ.get("PYSPARK_JOBS_VAR", ROOT / "var")))
    # The laptop's deployments (its metastore service is the catalog; dags/deployments.toml's
    # examples name Glue), launched on local-cluster.
    env.update(PYSPARK_JOBS_DEPLOYMENT="qa", PYSPARK_JOBS_DEPLOYMENTS=str(ROOT / "dev" / "deployments.toml"),
               PYSPARK_JOBS_DIST=str(dist), PYSPARK_JOBS_TRINO_HTTP_SCHEME="https")
    demo.migrate_once(env)

    _production_has_the_ds(spark)
    before = warehouse_state(spark)
    beta_result: dict[str, Any] = {}
    beta_log: list[str] = []
    logger = logging.getLogger("qa-beta")
    handler = _Lines(beta_log)
    logger.addHandler(handler)

    def run_beta() -> None:
        spec = SubmitSpec(job="demo.daily_revenue", ds=DS, env="qa", branch=beta,
                          artifact=str(dist / branch_slug(beta)), params={"top_n": "10"})
        try:
            beta_result.update(LocalLauncher(log=logger).run(spec))
        except Exception as exc:  # noqa: BLE001 - the test reports it
            beta_result["error"] = exc

    started = time.monotonic()
    thread = threading.Thread(target=run_beta)
    thread.start()
    dag_id = f"qa__{branch_slug(alpha)}__demo_daily_revenue"
    try:
        ok, output = demo.dags_test(dag_id, DS, env)
        print(f"\nairflow dags test {dag_id}: {time.monotonic() - started:.0f}s")
    finally:
        thread.join()
        logger.removeHandler(handler)
    seconds = time.monotonic() - started
    print(f"both runs done after {seconds:.0f}s")
    return DemoDagRun(dist=dist, airflow_env=env, dag_id=dag_id, ok=ok, output=output, beta=beta_result,
                      beta_log=beta_log, seconds=seconds, before=before, after=warehouse_state(spark))

"""End to end: `airflow dags test` of the demonstration DAG runs a packaged branch, and two
branches' QA runs of it on the same ds land in two namespaces.

One real `airflow dags test` (branch A, QA deployment, local launcher: spark-submit of the
packaged artifact on local-cluster) runs while branch B's run of the same SubmitSpec goes
through the local launcher directly: the two runs overlap and share the Hive metastore.
Slow (minutes): deselect with `-m "not slow"`.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from common.slug import branch_slug
from common.submit import SubmitSpec

ROOT = Path(__file__).resolve().parents[2]
DS = "1995-03-15"
BRANCHES = ("qa-test/alpha", "qa-test/beta")
OUTPUTS = ("revenue_by_segment", "top_customers", "revenue_by_shipmode")
CLUSTER_PYTHON = os.environ.get("PYSPARK_JOBS_CLUSTER_PYTHON", "/usr/bin/python3.11")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.services,
    pytest.mark.cluster,
    pytest.mark.skipif(not Path(CLUSTER_PYTHON).exists(), reason=f"no cluster interpreter {CLUSTER_PYTHON}"),
]


def _load(path: Path, name: str):
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _namespace(branch: str) -> str:
    return f"qa_{branch_slug(branch)}__demo"


def test_two_qa_branches_run_the_demo_dag_into_their_own_namespaces(spark, tmp_path):
    demo = _load(ROOT / "dev" / "demo.py", "_dev_demo")
    build = _load(ROOT / "packaging" / "build.py", "_packaging_build")
    for branch in BRANCHES:
        spark.sql(f"DROP DATABASE IF EXISTS {_namespace(branch)} CASCADE")
    dist = tmp_path / "dist"
    for branch in BRANCHES:
        build.build(branch=branch, dist=dist, cluster_python=CLUSTER_PYTHON)

    alpha, beta = BRANCHES
    env = demo.airflow_env(alpha, Path(os.environ.get("PYSPARK_JOBS_VAR", ROOT / "var")))
    env.update(PYSPARK_JOBS_DEPLOYMENT="qa", PYSPARK_JOBS_DIST=str(dist))
    demo.migrate_once(env)

    beta_result: dict = {}

    def run_beta() -> None:
        spec = SubmitSpec(job="demo.daily_revenue", ds=DS, env="qa", branch=beta,
                          artifact=str(dist / branch_slug(beta)), params={"top_n": "10"})
        try:
            beta_result.update(LocalLauncher(log=logging.getLogger("qa-beta")).run(spec))
        except Exception as exc:  # noqa: BLE001
            beta_result["error"] = exc

    from pj_airflow.launchers import LocalLauncher

    started = time.monotonic()
    thread = threading.Thread(target=run_beta)
    thread.start()
    dag_id = f"qa__{branch_slug(alpha)}__demo_daily_revenue"
    ok, output = demo.dags_test(dag_id, DS, env)
    print(f"\nairflow dags test {dag_id}: {time.monotonic() - started:.0f}s")
    thread.join()
    print(f"both runs done after {time.monotonic() - started:.0f}s")

    assert ok, output[-6000:]
    assert f"--env qa --branch {alpha}" in output and f"{branch_slug(alpha)}/main.py" in output
    assert "error" not in beta_result, beta_result.get("error")
    assert beta_result["returncode"] == 0

    for branch in BRANCHES:
        for table in OUTPUTS:
            rows = spark.table(f"{_namespace(branch)}.{table}").where(f"ds = '{DS}'").collect()
            assert rows, f"{_namespace(branch)}.{table} has no rows for {DS}"
    a = spark.table(f"{_namespace(alpha)}.revenue_by_segment").where(f"ds = '{DS}'")
    b = spark.table(f"{_namespace(beta)}.revenue_by_segment").where(f"ds = '{DS}'")
    assert sorted(a.collect()) == sorted(b.collect())  # same code, same input: same answer
    for branch in BRANCHES:
        spark.sql(f"DROP DATABASE IF EXISTS {_namespace(branch)} CASCADE")

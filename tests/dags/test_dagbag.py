"""The DAG files parse cleanly, fast, and without pyspark; the deployment shapes ids and runs.

Parsing happens in a fresh interpreter, as in Airflow's DAG processor, so that modules the
test session imported (pyspark among them) cannot hide or fake an import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PARSE = r'''
import json, sys, time
# The code comes from PYTHONPATH, as on an Airflow host, not from the virtualenv's editable install.
sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
started = time.perf_counter()
from pathlib import Path
from airflow.dag_processing.dagbag import BundleDagBag
imported = time.perf_counter()
bag = BundleDagBag(dag_folder=sys.argv[1], bundle_path=Path(sys.argv[1]), bundle_name='dags-folder')
parsed = time.perf_counter()
print(json.dumps({
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "pyspark": sorted(m for m in sys.modules if m == "pyspark" or m.startswith("pyspark.")),
    "airflow_import_s": imported - started,
    "parse_s": parsed - imported,
    "files": {s.file: s.duration.total_seconds() for s in bag.dagbag_stats},
    "dags": {
        dag_id: {
            "tags": sorted(dag.tags),
            "tasks": {t.task_id: {"upstream": sorted(t.upstream_task_ids), "env": t.env, "branch": t.branch,
                                  "channel": t.artifact_channel, "artifact_branch": t.artifact_branch,
                                  "launcher": t.default_launcher, "params": t.job_params}
                      for t in dag.tasks},
        }
        for dag_id, dag in bag.dags.items()
    },
}))
'''


def parse_dags(tmp_path: Path, root: Path = ROOT, **env: str) -> dict:
    """Parse `root`/dags with `root` as the code (the project, or a copy of it)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK_JOBS_DEPLOYMENT", "PYSPARK_JOBS_BRANCH"))}
    environ.update(AIRFLOW_HOME=str(tmp_path / "airflow"), AIRFLOW__CORE__LOAD_EXAMPLES="False",
                   PYTHONPATH=str(root), **env)
    run = subprocess.run([sys.executable, "-c", PARSE, str(root / "dags")], env=environ, capture_output=True, text=True,
                         timeout=300, check=False, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-4000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def prod(tmp_path_factory):
    return parse_dags(tmp_path_factory.mktemp("prod"))


def test_dag_files_import_without_errors_and_without_pyspark(prod):
    assert prod["errors"] == {}
    assert prod["pyspark"] == [], "a DAG file imported pyspark"
    total = sum(prod["files"].values())
    print(f"\nairflow import {prod['airflow_import_s']:.2f}s; DagBag parse {prod['parse_s']:.2f}s; per file: "
          + ", ".join(f"{Path(f).name} {s:.2f}s" for f, s in sorted(prod["files"].items())) + f" (sum {total:.2f}s)")
    assert {Path(f).name for f in prod["files"]} == {"tpch_daily.py", "demo_daily_revenue.py", "demo_revenue_parity.py"}
    assert prod["parse_s"] < 30, "DAG files must stay cheap to parse"


def test_tpch_daily_has_the_22_dataframe_jobs_and_no_sql_twins(prod):
    tasks = prod["dags"]["tpch_daily"]["tasks"]
    assert sorted(tasks) == [f"tpch.q{n:02d}" for n in range(1, 23)]
    assert prod["dags"]["tpch_daily_backfill"]["tasks"] == tasks  # its backfill DAG: the same tasks
    # Every query reads only source tables, so no job feeds another: no inferred edges.
    assert all(task["upstream"] == [] for task in tasks.values())


def test_production_runs_env_prod_on_productions_artifact(prod):
    task = prod["dags"]["demo_daily_revenue"]["tasks"]["demo.daily_revenue"]
    assert task == {"upstream": [], "env": "prod", "branch": None, "channel": "prod", "artifact_branch": "main",
                    "launcher": "emr", "params": {"top_n": "10"}}
    assert "qa" not in prod["dags"]["demo_daily_revenue"]["tags"]


def test_a_qa_deployment_gets_branch_dag_ids_artifact_and_namespace(tmp_path):
    from common.slug import branch_slug

    qa = parse_dags(tmp_path, PYSPARK_JOBS_DEPLOYMENT="qa", PYSPARK_JOBS_BRANCH="Feature/New-Report")
    slug = branch_slug("Feature/New-Report")
    assert qa["errors"] == {} and qa["pyspark"] == []
    assert sorted(qa["dags"]) == [f"qa__{slug}__{dag}" for dag in ("demo_daily_revenue", "demo_daily_revenue_backfill",
                                                                   "demo_revenue_parity", "tpch_daily",
                                                                   "tpch_daily_backfill")]
    task = qa["dags"][f"qa__{slug}__demo_daily_revenue"]["tasks"]["demo.daily_revenue"]
    assert task["env"] == "qa" and task["branch"] == "Feature/New-Report"
    assert task["channel"] == slug and task["artifact_branch"] == "Feature/New-Report"
    assert f"branch:{slug}" in qa["dags"][f"qa__{slug}__demo_daily_revenue"]["tags"]


def test_a_qa_deployment_without_a_branch_is_an_import_error(tmp_path):
    qa = parse_dags(tmp_path, PYSPARK_JOBS_DEPLOYMENT="qa")
    assert qa["dags"] == {}
    assert all("needs PYSPARK_JOBS_BRANCH" in error for error in qa["errors"].values()) and qa["errors"]

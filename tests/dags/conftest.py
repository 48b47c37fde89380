"""Fixtures of the DAG-side tests: a YARN client configuration with a stand-in spark-submit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.slug import branch_slug
from tests.helpers import put_artifact_stub

BRANCH = "feature/yarn-test"
ARTIFACT = f"s3://pj-artifacts/builds/{branch_slug(BRANCH)}/0123abcd"
APP = "application_1733140000000_0042"
RM = "127.0.0.1:9"  # nothing listens: a failed run's log fetch fails fast

YARN_SITE = f"""<configuration>
  <property><name>yarn.resourcemanager.webapp.address</name><value>{RM}</value></property>
</configuration>"""


@pytest.fixture
def yarn(tmp_path, monkeypatch, aws):
    """A YARN client configuration and a spark-submit that reports APP and exits with `code`."""
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "yarn-site.xml").write_text(YARN_SITE)
    monkeypatch.setenv("HADOOP_CONF_DIR", str(conf))
    put_artifact_stub(ARTIFACT)

    def submit(code: int) -> None:
        script = tmp_path / "spark-submit"
        script.write_text(f"#!/bin/sh\necho 'INFO Client: Submitted application {APP}'\n"
                          f"echo '\t tracking URL: http://{RM}/proxy/{APP}/'\nexit {code}\n")
        script.chmod(0o755)
        monkeypatch.setenv("PYSPARK_JOBS_SPARK_SUBMIT", str(script))
    return submit


def run_in_airflow(tmp_path: Path, dag_file: str, **env: str) -> dict:
    """Run `dag_file` as a script (its `__main__` prints one JSON line) in a fresh interpreter,
    with a fresh Airflow on SQLite in `tmp_path` and that file alone in its DAG folder."""
    root = Path(__file__).resolve().parents[2]
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "dag_under_test.py").write_text(dag_file)
    environ = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow"), "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
               "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
               "PYTHONPATH": f"{root}{os.pathsep}{root / 'dags'}", **env}
    airflow = str(Path(sys.executable).parent / "airflow")
    subprocess.run([airflow, "db", "migrate"], env=environ, cwd=tmp_path, capture_output=True, check=True, timeout=300)
    run = subprocess.run([sys.executable, str(dags / "dag_under_test.py")], env=environ, cwd=tmp_path,
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-4000:]
    return json.loads(run.stdout.strip().splitlines()[-1])

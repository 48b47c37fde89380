"""One Spark session for the whole suite, wired to the local catalog like every run; fixtures
shared across folders (the demo DAG's one run, moto's EMR). dags/ is on sys.path, as Airflow
puts it, so tests import the DAG helper package `pj_airflow`."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PYSPARK_JOBS_HOME", str(ROOT))
os.environ.setdefault("PYSPARK_JOBS_VAR", str(ROOT / "var"))
MOTO_ENDPOINT = f"http://127.0.0.1:{os.environ.get('PYSPARK_JOBS_S3_PORT', '15000')}"
if str(ROOT / "dags") not in sys.path:
    sys.path.insert(0, str(ROOT / "dags"))


@pytest.fixture(scope="session")
def spark():
    from common.session import get_spark

    session = get_spark("pyspark-jobs tests", master="local[2]")
    session.conf.set("spark.sql.shuffle.partitions", "2")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def demo_dag_run(spark, tmp_path_factory):
    """The demo DAG's one `airflow dags test` (tests/dags/demo_dag_run.py), for every test that
    checks it; its QA outputs are dropped before and after, the warehouse read right before and
    after the runs."""
    from tests.dags.demo_dag_run import drop_outputs, run_demo_dag

    drop_outputs(spark)
    yield run_demo_dag(spark, tmp_path_factory.mktemp("demo-dag") / "dist")
    drop_outputs(spark)


@pytest.fixture
def aws(monkeypatch):
    """AWS clients pointed at the local moto server (skips when it is not running)."""
    boto3 = pytest.importorskip("boto3")
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": MOTO_ENDPOINT}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    client = boto3.client("emr", endpoint_url=MOTO_ENDPOINT, region_name="us-east-1")
    try:
        client.list_clusters()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"moto server not reachable on {MOTO_ENDPOINT}: {exc} (make services)")
    return client


@pytest.fixture
def emr_cluster(aws):
    """A running EMR cluster on moto (moto keeps its steps PENDING); its id."""
    found = aws.run_job_flow(
        Name=f"pj-test-{uuid.uuid4().hex[:6]}", ReleaseLabel="emr-7.1.0", LogUri="s3://pj-emr-logs/logs/",
        Instances={"MasterInstanceType": "m5.xlarge", "SlaveInstanceType": "m5.xlarge", "InstanceCount": 3,
                   "KeepJobFlowAliveWhenNoSteps": True},
        JobFlowRole="EMR_EC2_DefaultRole", ServiceRole="EMR_DefaultRole",
    )
    yield found["JobFlowId"]
    aws.terminate_job_flows(JobFlowIds=[found["JobFlowId"]])


@pytest.fixture
def scratch_db(spark):
    """A throwaway warehouse database, dropped afterwards."""
    name = f"pj_test_{uuid.uuid4().hex[:8]}"
    yield name
    spark.sql(f"DROP DATABASE IF EXISTS {name} CASCADE")

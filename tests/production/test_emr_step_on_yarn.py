"""The step the EMR launcher adds is the step that runs.

The operator adds the demonstration job's step to an EMR cluster on moto (moto records steps
and never runs them); the test takes the step's arguments as `describe_step` returns them and
runs them verbatim, as EMR's command-runner.jar would, on the local YARN (dev/command_runner.py),
with the branch's artifact from S3 where publishing put it. The driver runs in YARN cluster
mode, reads the lake tables through the metastore service from S3 and MySQL with credentials it
fetches from Secrets Manager, and writes its outputs to S3. They must equal, row for row, the
same job's run on local-cluster against local disk. Slow: a few minutes.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from common.slug import branch_slug
from tests.helpers import assert_frame_equal, data_files, load_dev_script
from tests.reliability.test_secrets_everywhere import Leaks, Secret

pytestmark = [pytest.mark.services, pytest.mark.cluster]

JOB = "demo.daily_revenue"
DS = "1995-03-15"
BRANCH = "qa-test/yarn"  # runs on YARN: qa_<slug>__demo.* under s3://pyspark-jobs-lake/qa/<slug>/
LOCAL_BRANCH = "qa-test/yarn-twin"  # the same spec on local-cluster, local disk
OUTPUTS = ("revenue_by_segment", "top_customers", "revenue_by_shipmode")
APP = re.compile(r"application_\d+_\d+")
command_runner = load_dev_script("command_runner")


def namespace(branch: str) -> str:
    return f"qa_{branch_slug(branch)}__demo"


def operator(branch: str, launcher: str, **kwargs):
    from pj_airflow.operator import SparkJobOperator

    return SparkJobOperator(
        task_id=JOB, job=JOB, ds=DS, env="qa", branch=branch, artifact_branch=branch,
        artifact_channel=branch_slug(branch), deployment="qa", launcher=launcher,
        aws_conn_id=None, poll_interval=0.2, deferrable=False, **kwargs,  # waits in the worker: the step's outcome
    )


def context(branch: str) -> dict:
    return {"ti": SimpleNamespace(dag_id=f"qa__{branch_slug(branch)}__demo_daily_revenue", task_id=JOB,
                                  run_id=f"manual__{DS}", map_index=-1, try_number=1, max_tries=0,
                                  xcom_push=lambda key, value: None)}


def _describe(spark, table: str) -> dict[str, str]:
    return {r.col_name: r.data_type for r in spark.sql(f"DESCRIBE TABLE EXTENDED {table}").collect()}


@pytest.fixture(scope="module")
def emr(stack_env):
    import boto3

    client = boto3.client("emr")
    cluster = client.run_job_flow(
        Name="pyspark-jobs-local", ReleaseLabel="emr-7.1.0", LogUri="s3://pyspark-jobs-emr-logs/",
        Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True},
        JobFlowRole="EMR_EC2_DefaultRole", ServiceRole="EMR_DefaultRole",
    )["JobFlowId"]
    yield client, cluster
    client.terminate_job_flows(JobFlowIds=[cluster])


@pytest.fixture(scope="module")
def recorded_step(emr, published, s3_inputs):
    """The operator's EMR step as moto recorded it; the try is then lost (moto never ends a step)."""
    client, cluster = emr
    published(BRANCH)
    op = operator(BRANCH, "emr", cluster_id=cluster, job_params={"top_n": "10"})
    errors: list[BaseException] = []
    thread = threading.Thread(target=lambda: _capture(op.execute, context(BRANCH), errors), daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not client.list_steps(ClusterId=cluster)["Steps"]:
        assert time.monotonic() < deadline and thread.is_alive(), f"no step was added: {errors}"
        time.sleep(0.2)
    op._running._stop.set()
    thread.join(timeout=30)
    [step] = client.list_steps(ClusterId=cluster)["Steps"]
    return client.describe_step(ClusterId=cluster, StepId=step["Id"])["Step"]


def _capture(fn, arg, errors: list[BaseException]) -> None:
    try:
        fn(arg)
    except BaseException as exc:  # noqa: BLE001
        errors.append(exc)


@pytest.fixture(scope="module")
def yarn_run(spark, recorded_step, yarn_conf_dir):
    spark.sql(f"DROP DATABASE IF EXISTS {namespace(BRANCH)} CASCADE")
    args = recorded_step["Config"]["Args"]
    started = time.monotonic()
    result = command_runner.run(args, timeout=1200)
    yield SimpleNamespace(args=args, result=result, output=result.stdout + result.stderr,
                          seconds=time.monotonic() - started)
    spark.sql(f"DROP DATABASE IF EXISTS {namespace(BRANCH)} CASCADE")


@pytest.fixture(scope="module")
def local_cluster_run(spark, published, yarn_run):
    """The same task for the twin branch on local-cluster, outputs on local disk."""
    import logging

    from pj_airflow.launchers import LocalLauncher

    published(LOCAL_BRANCH)
    spark.sql(f"DROP DATABASE IF EXISTS {namespace(LOCAL_BRANCH)} CASCADE")
    op = operator(LOCAL_BRANCH, "local", job_params={"top_n": "10"},
                  artifact=str(published.dist / branch_slug(LOCAL_BRANCH)))
    LocalLauncher(log=logging.getLogger("local-cluster")).run(op.build_spec("local", op.deployment_config()))
    yield
    spark.sql(f"DROP DATABASE IF EXISTS {namespace(LOCAL_BRANCH)} CASCADE")


def test_the_recorded_step_is_a_cluster_mode_spark_submit_of_the_published_artifact(recorded_step, published):
    args = recorded_step["Config"]["Args"]
    base = published(BRANCH)
    assert recorded_step["Config"]["Jar"] == "command-runner.jar"
    assert args[:5] == ["spark-submit", "--deploy-mode", "cluster", "--master", "yarn"]
    assert base.startswith("s3://pyspark-jobs-artifacts/builds/")
    assert args[5:11] == ["--archives", f"{base}/environment.tar.gz#environment", "--py-files", f"{base}/jobs.zip",
                          "--jars", f"{base}/mysql-connector-j-8.4.0.jar,{base}/iceberg-spark-runtime-3.5_2.12-1.10.0.jar"]
    confs = dict(a.split("=", 1) for a in args[12:args.index(f"{base}/main.py"):2])
    assert confs["spark.yarn.maxAppAttempts"] == "1"
    assert confs["spark.yarn.appMasterEnv.PYSPARK_JOBS_MYSQL_SECRET_ID"] == "pyspark-jobs/local/mysql/tpch"
    assert confs["spark.yarn.appMasterEnv.PYSPARK_JOBS_QA_ROOT"] == "s3://pyspark-jobs-lake/qa"


def test_the_step_runs_verbatim_on_yarn_and_its_s3_outputs_equal_the_local_cluster_run(
    spark, yarn_run, local_cluster_run
):
    assert yarn_run.result.returncode == 0, yarn_run.output[-4000:]
    assert APP.search(yarn_run.output), "spark-submit named no YARN application"
    for name in OUTPUTS:
        on_s3, on_disk = f"{namespace(BRANCH)}.{name}", f"{namespace(LOCAL_BRANCH)}.{name}"
        root = f"s3://pyspark-jobs-lake/qa/{branch_slug(BRANCH)}/demo/{name}"
        assert _describe(spark, on_s3)["Location"] == root
        files = data_files(spark, on_s3, DS)
        assert files and all(f.startswith(f"{root}/") for f in files), files
        assert _describe(spark, on_disk)["Location"].startswith("file:")
        yarn_rows = spark.table(on_s3).where(f"ds = '{DS}'")
        assert yarn_rows.count() > 0, f"{on_s3} is empty"
        assert_frame_equal(yarn_rows, spark.table(on_disk).where(f"ds = '{DS}'"))


def test_the_mysql_password_is_in_no_step_argument_container_environment_log_or_artifact(
    yarn_run, recorded_step, published, yarn_conf_dir
):
    import boto3

    from common.settings import load_settings

    mysql = load_settings().mysql
    leaks = Leaks([Secret("MySQL", mysql.user, mysql.password)])
    leaks.check("the step as EMR describes it", json.dumps(recorded_step, default=str))
    leaks.check("spark-submit's output", yarn_run.output)
    app = APP.search(yarn_run.output).group(0)
    nm = stack_dirs(yarn_conf_dir)
    scripts = [p for p in nm["local"].rglob("launch_container.sh") if app in str(p)]
    assert scripts, f"no container launch script of {app} under {nm['local']} (the YARN application environment)"
    for script in scripts:
        leaks.check_file(script)
    assert leaks.check_tree(nm["logs"] / app) > 0, "no container log of the application"
    s3 = boto3.client("s3")
    bucket, _, prefix = published(BRANCH).removeprefix("s3://").partition("/")
    for obj in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]:
        local = Path(yarn_conf_dir).parent / "leak-scan" / Path(obj["Key"]).name
        local.parent.mkdir(exist_ok=True)
        s3.download_file(bucket, obj["Key"], str(local))
        leaks.check_file(local, f"s3://{bucket}/{obj['Key']}")
    leaks.assert_none()


def stack_dirs(conf_dir: Path) -> dict[str, Path]:
    from xml.etree import ElementTree

    props = {p.findtext("name"): p.findtext("value") for p in ElementTree.parse(conf_dir / "yarn-site.xml").iter("property")}
    return {"local": Path(props["yarn.nodemanager.local-dirs"]), "logs": Path(props["yarn.nodemanager.log-dirs"]),
            "rm": props["yarn.resourcemanager.webapp.address"]}


def test_a_job_failing_on_yarn_runs_once_and_fails_the_task_with_the_drivers_error(
    published, s3_inputs, yarn_conf_dir, caplog, capsys
):
    from airflow.sdk.exceptions import AirflowException

    published(BRANCH)
    caplog.set_level("INFO")
    op = operator(BRANCH, "yarn", job_params={"top_n": "ten"})
    with pytest.raises(AirflowException) as failed:
        op.execute(context(BRANCH))
    message = str(failed.value)
    app = APP.search(message).group(0)
    assert re.fullmatch(rf"YARN application {app} of {JOB} failed: .*top_n.*'ten'.*", message), message
    captured = capsys.readouterr()
    log = caplog.text + captured.out + captured.err  # the task logger writes through structlog
    assert f"YARN application {app} tracking URL: http://" in log
    assert "driver log of " + app in log and "Traceback" not in message
    rm = stack_dirs(yarn_conf_dir)["rm"]
    with urllib.request.urlopen(f"http://{rm}/ws/v1/cluster/apps/{app}/appattempts", timeout=10) as response:
        attempts = json.loads(response.read())["appAttempts"]["appAttempt"]
    assert len(attempts) == 1, "YARN ran the failed driver again"


def test_trino_lake_returns_the_yarn_runs_outputs_as_spark_does(spark, yarn_run):
    from tests.helpers import trino_rows
    from tests.production.test_trino_lake import normalized

    assert yarn_run.result.returncode == 0, yarn_run.output[-4000:]
    for name in OUTPUTS:
        table = f"{namespace(BRANCH)}.{name}"
        columns = [f.name for f in spark.table(table).schema if f.name != "ds"]
        spark_rows = [tuple(r) for r in spark.table(table).where(f"ds = '{DS}'").select(*columns).collect()]
        through_trino = trino_rows(f"SELECT {', '.join(columns)} FROM lake.{table} WHERE ds = '{DS}'")
        assert spark_rows and normalized(through_trino) == normalized(spark_rows), table

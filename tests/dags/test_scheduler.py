"""The demonstration DAG under a running Airflow 3, not `airflow dags test`: api-server,
scheduler, dag-processor and triggerer as separate processes, the LocalExecutor with one slot
(`[core] parallelism = 1`), on SQLite.

The DAG folder holds the shipped dags/demo_daily_revenue.py (the local deployment, as `make
demo` runs it: no retries, spark-submit on local-cluster of the artifact the `demo_dag_run`
fixture built) and one deferrable EMR task (a qa step). The EMR API is a moto server running in this process, so the test can end a step as
EMR would (moto's server never moves a step on) and give moto the CancelSteps it lacks: the
PENDING/RUNNING step named becomes CANCELLED, as on EMR.

What a team relies on, in order:
- the EMR task adds its step and defers: the triggerer holds it, the executor's one slot is
  free (the demo runs below take it while the step is still RUNNING); it succeeds once the step
  completes, and marking a deferred try failed (the REST API, as the UI does) cancels its step;
- unpaused today, the demo DAG's scheduled run is the latest complete day (today - 1, the data
  interval's start), which has no TPC-H data: the task fails with the one line saying why and
  no partition of that day is published;
- an Airflow backfill of one day with data (1995-06-17) publishes it, and the three reports
  equal those computed by hand from the source rows.
Slow: a few minutes.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from common.environments import Environment
from common.registry import get_job
from common.slug import branch_slug
from tests.chaos.faults import free_port
from tests.conftest import MOTO_ENDPOINT, ROOT
from tests.dags.demo_dag_run import BRANCHES
from tests.helpers import demo_reports_by_hand, demo_reports_published, put_artifact_stub
from tests.helpers import wait_for as _wait_for

pytestmark = [pytest.mark.services, pytest.mark.slow]

BRANCH = BRANCHES[0]
DEMO = "demo_daily_revenue"  # the local deployment's id
DEFERRED = "deferred_emr_step"
DATA_DAY = "1995-06-17"  # a day no other test writes
ARTIFACT = f"s3://pj-artifacts/builds/{branch_slug(BRANCH)}/scheduler-test"
PROCESSES = ("api-server", "scheduler", "dag-processor", "triggerer")
SQLITE_LOCK_RETRIES = 15  # 2 s apart
DEFERRED_DAG = """
from airflow.sdk import DAG
from pj_airflow.operator import SparkJobOperator

with DAG({dag_id!r}, schedule=None, catchup=False):
    SparkJobOperator(task_id="step", job="demo.daily_revenue", ds="1995-03-15", env="qa", branch={branch!r},
                     artifact_branch={branch!r}, artifact_channel={channel!r}, artifact={artifact!r},
                     deployment="qa", launcher="emr", cluster_id={cluster!r}, aws_conn_id="emr_under_test",
                     poll_interval=1, deferrable=True, retries=0)
"""


def wait_for(what: str, probe: Callable[[], Any], timeout: float, stack: Airflow | None = None) -> Any:
    return _wait_for(probe, timeout, what=what, interval=1, context=stack.tails if stack else None)


class Airflow:
    """The four Airflow processes, started in `home`, stopped by their process groups."""

    def __init__(self, home: Path, env: dict[str, str], port: int) -> None:
        self.home, self.env, self.port = home, env, port
        self.procs: dict[str, subprocess.Popen] = {}
        self.token = ""

    def start(self) -> None:
        airflow = str(Path(sys.executable).parent / "airflow")
        subprocess.run([airflow, "db", "migrate"], env=self.env, cwd=self.home, check=True, capture_output=True,
                       timeout=300)
        for name in PROCESSES:
            args = [airflow, name, *(["--port", str(self.port)] if name == "api-server" else [])]
            with open(self.home / f"{name}.log", "wb") as out:
                self.procs[name] = subprocess.Popen(args, env=self.env, cwd=self.home, stdout=out,
                                                    stderr=subprocess.STDOUT, start_new_session=True)
        wait_for("the api-server answering", self._token, 180, self)

    def _token(self) -> bool:
        for name, proc in self.procs.items():
            assert proc.poll() is None, f"airflow {name} exited with {proc.returncode}" + self.tails()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/auth/token", timeout=5) as response:
                self.token = json.load(response)["access_token"]
        except (urllib.error.URLError, OSError):
            return False
        return True

    def api(self, method: str, path: str, body: dict | None = None, missing_ok: bool = False) -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/api/v2/{path}", method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        for attempt in range(SQLITE_LOCK_RETRIES + 1):
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return json.load(response)
            except urllib.error.HTTPError as exc:
                if missing_ok and exc.code == 404:
                    return None
                said = exc.read()[:500]
                # Airflow on SQLite answers 503 while the scheduler holds the database's lock.
                if exc.code == 503 and b"Database is locked" in said and attempt < SQLITE_LOCK_RETRIES:
                    time.sleep(2)
                    continue
                raise AssertionError(f"{method} {path}: {exc.code} {said!r}") from None
        raise AssertionError("unreachable")

    def runs(self, dag_id: str) -> list[dict]:
        return self.api("GET", f"dags/{dag_id}/dagRuns?order_by=logical_date")["dag_runs"]

    def task(self, dag_id: str, run_id: str, task_id: str) -> dict:
        return self.api("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")

    def ended(self, dag_id: str, run_id: str) -> str | None:
        state = next(r["state"] for r in self.runs(dag_id) if r["dag_run_id"] == run_id)
        return state if state in ("success", "failed") else None

    def task_log(self, dag_id: str, run_id: str, task_id: str) -> str:
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        # the tries' logs, and the triggerer's for a deferred try (attempt=N.log.trigger.M.log)
        return "\n".join(path.read_text(errors="replace") for path in sorted(folder.glob("attempt=*.log*")))

    def tails(self) -> str:
        text = ""
        for name in PROCESSES:
            log = self.home / f"{name}.log"
            if log.exists():
                text += f"\n--- airflow {name}:\n" + "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        return text

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture(scope="module")
def emr_api():
    """A moto server in this process: its EMR endpoint, the cluster's id, and the cluster's model
    (to end steps as EMR would); with CancelSteps as EMR's API defines it."""
    import boto3
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.core.responses import ActionResult
    from moto.emr.models import emr_backends
    from moto.emr.responses import ElasticMapReduceResponse
    from moto.server import ThreadedMotoServer

    def cancel_steps(self) -> ActionResult:
        asked = set(self._get_param("StepIds") or [])
        cancelled = []
        for step in self.backend.clusters[self._get_param("ClusterId")].steps:
            if step.id in asked and step.state in ("PENDING", "RUNNING"):
                step.state = "CANCELLED"
                cancelled.append({"StepId": step.id, "Status": "SUBMITTED", "Reason": ""})
        return ActionResult({"CancelStepsInfoList": cancelled})

    ElasticMapReduceResponse.cancel_steps = cancel_steps
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client("emr", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    cluster = client.run_job_flow(
        Name="pj-scheduler-test", ReleaseLabel="emr-7.1.0", LogUri="s3://pj-emr-logs/logs/",
        Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True},
        JobFlowRole="EMR_EC2_DefaultRole", ServiceRole="EMR_DefaultRole")["JobFlowId"]
    try:
        yield endpoint, cluster, emr_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].clusters[cluster]
    finally:
        server.stop()
        del ElasticMapReduceResponse.cancel_steps


@pytest.fixture(scope="module")
def airflow(demo_dag_run, emr_api, tmp_path_factory):
    """The running Airflow, its DAG folder the demo DAG file and the deferrable EMR task's."""
    endpoint, cluster, _ = emr_api
    home = tmp_path_factory.mktemp("airflow-scheduler")
    dags = home / "dags"
    dags.mkdir()
    (dags / "demo_daily_revenue.py").symlink_to(ROOT / "dags" / "demo_daily_revenue.py")
    (dags / "deferred_emr_step.py").write_text(DEFERRED_DAG.format(
        dag_id=DEFERRED, branch=BRANCH, channel=branch_slug(BRANCH), artifact=ARTIFACT, cluster=cluster))
    port = free_port()
    env = {**demo_dag_run.airflow_env,
           "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
           "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'dags'}",
           "AIRFLOW__CORE__EXECUTOR": "LocalExecutor", "AIRFLOW__CORE__PARALLELISM": "1",
           "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
           "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
           "AIRFLOW__API__PORT": str(port), "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
           "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
           "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
           "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "1",
           "AIRFLOW_CONN_EMR_UNDER_TEST": json.dumps({"conn_type": "aws", "extra": {
               "endpoint_url": endpoint, "region_name": "us-east-1"}}),
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": MOTO_ENDPOINT,  # artifacts and secrets; EMR is the connection's endpoint
           "PYSPARK_JOBS_DEPLOYMENT": "local"}
    stack = Airflow(home, env, port)
    try:
        stack.start()
        for dag_id in (DEMO, DEFERRED):
            wait_for(f"{dag_id} parsed", lambda d=dag_id: stack.api("GET", f"dags/{d}", missing_ok=True), 180, stack)
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def day(airflow, emr_api, aws_module):
    """Everything happens here, in the order the module docstring gives; the tests read it."""
    _, cluster, model = emr_api
    put_artifact_stub(ARTIFACT)
    seen: dict[str, Any] = {}

    deferred_run = airflow.api("POST", f"dags/{DEFERRED}/dagRuns", {"logical_date": None})["dag_run_id"]
    airflow.api("PATCH", f"dags/{DEFERRED}", {"is_paused": False})
    wait_for("the EMR task deferred", lambda: airflow.task(DEFERRED, deferred_run, "step")["state"] == "deferred",
             240, airflow)
    step = model.steps[0]
    step.state = "RUNNING"
    seen["step_args"] = list(step.args)

    started = datetime.now(UTC)
    airflow.api("PATCH", f"dags/{DEMO}", {"is_paused": False})
    airflow.api("POST", "backfills", {"dag_id": DEMO, "from_date": f"{DATA_DAY}T00:00:00Z",
                                     "to_date": f"{DATA_DAY}T00:00:00Z", "max_active_runs": 1,
                                     "reprocess_behavior": "none", "run_backwards": False, "dag_run_conf": {}})
    runs = wait_for("the scheduled run and the backfill's run",
                    lambda: found if len(found := airflow.runs(DEMO)) >= 2 else None, 120, airflow)
    for run in runs:
        wait_for(f"{run['dag_run_id']} ended", lambda r=run: airflow.ended(DEMO, r["dag_run_id"]), 900, airflow)
    seen["demo_runs"] = airflow.runs(DEMO)
    seen["logs"] = {r["dag_run_id"]: airflow.task_log(DEMO, r["dag_run_id"], "demo.daily_revenue")
                    for r in seen["demo_runs"]}
    seen["started"] = started
    # The demo runs took the executor's one slot while the EMR task was still deferred.
    seen["deferred_meanwhile"] = airflow.task(DEFERRED, deferred_run, "step")["state"]
    seen["step_meanwhile"] = step.state

    step.state = "COMPLETED"
    seen["completed"] = wait_for("the EMR task resumed", lambda: airflow.ended(DEFERRED, deferred_run), 180, airflow)

    killed_run = airflow.api("POST", f"dags/{DEFERRED}/dagRuns", {"logical_date": None})["dag_run_id"]
    wait_for("the second try deferred", lambda: airflow.task(DEFERRED, killed_run, "step")["state"] == "deferred",
             240, airflow)
    second = model.steps[1]
    # Airflow calls a trigger's on_kill only while a triggerer runs it: wait for its first poll.
    wait_for("the triggerer polling the second step",
             lambda: f"step {second.id}: " in airflow.task_log(DEFERRED, killed_run, "step"), 120, airflow)
    airflow.api("PATCH", f"dags/{DEFERRED}/dagRuns/{killed_run}/taskInstances/step", {"new_state": "failed"})
    seen["cancelled"] = wait_for("the step cancelled from the triggerer",
                                 lambda: second.state if second.state != "PENDING" else None, 120, airflow)
    seen["killed"] = airflow.task(DEFERRED, killed_run, "step")["state"]
    seen["killed_log"] = airflow.task_log(DEFERRED, killed_run, "step")
    seen["killed_step"] = second.id
    seen["steps"] = [(s.id, s.state) for s in model.steps]
    return seen


@pytest.fixture(scope="module")
def aws_module():
    """The local moto server (artifacts, secrets) for this module's own puts."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": MOTO_ENDPOINT}.items():
            patch.setenv(key, value)
        yield


def test_a_deferred_emr_task_frees_its_slot_resumes_when_the_step_completes_and_a_kill_cancels_it(day):
    assert day["deferred_meanwhile"] == "deferred" and day["step_meanwhile"] == "RUNNING"
    assert day["completed"] == "success"
    assert day["cancelled"] == "CANCELLED" and day["killed"] == "failed"
    assert "Trigger cancelled by user action, invoking on_kill" in day["killed_log"]
    assert f"cancelling EMR step {day['killed_step']}" in day["killed_log"]
    assert [state for _, state in day["steps"]] == ["COMPLETED", "CANCELLED"]
    assert any(ARTIFACT in arg for arg in day["step_args"]), day["step_args"]


def test_the_scheduled_run_computes_yesterday_which_has_no_data_and_publishes_nothing(spark, day):
    yesterday = (day["started"] - timedelta(days=1)).date().isoformat()
    scheduled = [r for r in day["demo_runs"] if r["run_type"] == "scheduled"]
    assert [r["data_interval_start"][:10] for r in scheduled] == [yesterday]
    assert scheduled[0]["state"] == "failed"
    log = day["logs"][scheduled[0]["dag_run_id"]]
    assert f"ds={yesterday}: the run produced no rows, so no output of it was published" in log
    assert f"--ds {yesterday}" in log
    env = Environment("local")
    for table in get_job("demo.daily_revenue").outputs.values():
        name = env.output_name(table)
        assert spark.table(name).where(f"ds = '{yesterday}'").count() == 0, name


def test_the_airflow_backfill_of_a_day_with_data_publishes_it_as_computed_by_hand(spark, day):
    backfilled = [r for r in day["demo_runs"] if r["run_type"] == "backfill"]
    assert [(r["data_interval_start"][:10], r["state"]) for r in backfilled] == [(DATA_DAY, "success")]
    published = demo_reports_published(spark, Environment("local"))
    expected = demo_reports_by_hand(spark, [DATA_DAY])[DATA_DAY]
    assert expected["mode"], "the day has shipments"
    for report in ("segment", "mode", "top"):
        assert published[report][DATA_DAY] == expected[report], report

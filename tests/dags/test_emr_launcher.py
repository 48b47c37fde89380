"""The EMR launcher against the moto server: the step it adds, a retry, a clear, a kill, a
failure, the task's extra links.

moto (5.2) keeps a step PENDING/RUNNING forever and does not implement CancelSteps: the
kill test checks that the cancel request goes out for the right step and that the task
stops and says how to cancel by hand; a step's FAILED end is tested with botocore's Stubber.
"""

from __future__ import annotations

import threading
import time
import uuid
from types import SimpleNamespace

import pytest

boto3 = pytest.importorskip("boto3")
from airflow.sdk.exceptions import AirflowException
from botocore.stub import Stubber

from common.slug import branch_slug
from common.submit import SubmitSpec
from pj_airflow.launchers import EmrLauncher, LaunchError, LocalLauncher, step_name
from pj_airflow.links import LINKS_KEY
from pj_airflow.operator import SparkJobOperator
from tests.helpers import put_artifact_stub, wait_for

BRANCH = "feature/emr-test"
ARTIFACT = f"s3://pj-artifacts/builds/{branch_slug(BRANCH)}/0123abcd"


def operator(cluster_id: str, *, deferrable: bool = False) -> SparkJobOperator:
    """The task; it waits for its step in the worker unless `deferrable` (then in the triggerer)."""
    return SparkJobOperator(
        task_id="demo.daily_revenue", job="demo.daily_revenue", ds="1995-03-15", env="qa", branch=BRANCH,
        artifact_branch=BRANCH, artifact_channel=branch_slug(BRANCH), artifact=ARTIFACT,
        job_params={"top_n": "5"}, launcher="emr", cluster_id=cluster_id, aws_conn_id=None, poll_interval=0.2,
        retries=RETRIES, deferrable=deferrable,
    )


RETRIES = 2
RUN = {"dag_id": "qa__x__demo_daily_revenue", "task_id": "demo.daily_revenue",
       "run_id": "manual__1995-03-15T00:00:00+00:00", "map_index": -1}


def context(try_number: int = 1, max_tries: int = RETRIES) -> dict:
    """A task try's context as Airflow numbers tries: a new run's first try is 1 with max_tries =
    retries; a retry adds 1 to try_number only; a clear after try N sets max_tries = N + retries."""
    pushed: dict = {}
    ti = SimpleNamespace(**RUN, try_number=try_number, max_tries=max_tries, xcom=pushed,
                         xcom_push=lambda key, value: pushed.__setitem__(key, value))
    return {"ti": ti}


CONTEXT = context()


class Try:
    """One task try: execute() in a thread, as the task runner would, killable with on_kill()."""

    def __init__(self, op: SparkJobOperator, ctx: dict | None = None):
        self.op = op
        self.context = ctx or context()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.op.execute(self.context)
        except BaseException as exc:  # noqa: BLE001
            self.error = exc

    def stop(self) -> None:
        self.op.on_kill()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()

    def die(self) -> None:
        """The worker is lost mid-try (no on_kill): its step keeps running on the cluster."""
        self.op._running._stop.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()


def steps(client, cluster_id: str) -> list[dict]:
    return client.list_steps(ClusterId=cluster_id)["Steps"]


@pytest.mark.services
def test_the_step_carries_the_local_launchers_args_a_retry_adopts_it_and_a_kill_cancels_it(aws, emr_cluster):
    put_artifact_stub(ARTIFACT)
    first = Try(operator(emr_cluster))
    [added] = wait_for(lambda: steps(aws, emr_cluster))
    step = aws.describe_step(ClusterId=emr_cluster, StepId=added["Id"])["Step"]
    assert step["Name"] == step_name(**RUN)
    assert step["ActionOnFailure"] == "CONTINUE"
    assert step["Config"]["Jar"] == "command-runner.jar"

    # Exactly what the local launcher would run for the same task, after master/deploy mode.
    spec = first.op.build_spec("local", first.op.deployment_config(), CONTEXT)
    assert spec.conf["spark.yarn.maxAppAttempts"] == "1"  # a failed driver is not run twice
    local = LocalLauncher(log=__import__("logging").getLogger("test")).command(spec)
    args = step["Config"]["Args"]
    assert args[:5] == ["spark-submit", "--deploy-mode", "cluster", "--master", "yarn"]
    assert args[5:] == local[len(SubmitSpec.local_prefix("x", "y")):]
    assert args[-9:] == ["run", "demo.daily_revenue", "--ds", "1995-03-15", "--env", "qa",
                         "--branch", BRANCH, "--param", "top_n=5"][-9:]
    assert f"{ARTIFACT}/environment.tar.gz#environment" in args
    assert "spark.yarn.appMasterEnv.PYSPARK_JOBS_CATALOG=cluster" in args

    # The first try's worker is lost while its step runs; a retry of the same run adopts the step.
    first.die()
    assert isinstance(first.error, AirflowException)
    # The failed try still gets its extra links: the step's log folder and the Spark history server.
    primary = aws.describe_cluster(ClusterId=emr_cluster)["Cluster"]["MasterPublicDnsName"]
    assert first.context["ti"].xcom[LINKS_KEY] == {
        "logs": f"https://console.aws.amazon.com/s3/buckets/pj-emr-logs?region=us-east-1"
                f"&prefix=logs/{emr_cluster}/steps/{added['Id']}/",
        "spark_ui": f"http://{primary}:18080/",
    }
    retry = Try(operator(emr_cluster), context(try_number=2))
    wait_for(lambda: retry.op._running is not None and retry.op._running.step_id)
    assert retry.op._running.step_id == added["Id"]
    time.sleep(1.0)
    assert [s["Id"] for s in steps(aws, emr_cluster)] == [added["Id"]], "a retry submitted a second step"

    # on_kill sends CancelSteps for this step (moto answers that it is not implemented).
    sent: list[dict] = []
    retry.op._running.client.meta.events.register("provide-client-params.emr.CancelSteps",
                                                   lambda params, **_: sent.append(dict(params)))
    retry.stop()
    assert sent == [{"ClusterId": emr_cluster, "StepIds": [added["Id"]], "StepCancellationOption": "SEND_INTERRUPT"}]
    assert isinstance(retry.error, AirflowException)


def failed_step(log_uri: str, *, log_wait_s: float) -> tuple[EmrLauncher, Stubber]:
    client = boto3.client("emr", region_name="us-east-1")
    launcher = EmrLauncher(cluster="j-TEST", aws_conn_id=None, poll_interval=0, log_wait_s=log_wait_s,
                           log=__import__("logging").getLogger("t"))
    launcher._client = client
    stub = Stubber(client)
    stub.add_response("describe_step", {"Step": {"Id": "s-1", "Status": {
        "State": "FAILED", "FailureDetails": {"Reason": "Spark failed", "Message": "exit code 1",
                                              "LogFile": f"{log_uri}j-TEST/steps/s-1/stderr.gz"}}}})
    for _ in range(2):  # the driver's log, then where all logs are
        stub.add_response("describe_cluster", {"Cluster": {"Id": "j-TEST", "LogUri": log_uri}})
    return launcher, stub


@pytest.mark.services
def test_a_failed_step_fails_the_task_with_the_drivers_error_from_the_log_uri(aws):
    """EMR's LogUri layout: steps/<step>/stderr.gz (spark-submit's output, naming the YARN
    application) and containers/<app>/<container>/std{out,err}.gz; the first container of an
    attempt is the application master, which runs the driver in cluster mode."""
    import gzip

    s3, bucket = boto3.client("s3"), f"pj-emr-logs-{uuid.uuid4().hex[:6]}"
    s3.create_bucket(Bucket=bucket)
    app = "application_1733140000000_0007"
    logs = {
        "j-TEST/steps/s-1/stderr.gz": f"INFO Client: Submitted application {app}\nException in thread main",
        f"j-TEST/containers/{app}/container_1733140000000_0007_01_000002/stderr.gz": "executor noise",
        f"j-TEST/containers/{app}/container_1733140000000_0007_01_000001/stdout.gz": "",
        f"j-TEST/containers/{app}/container_1733140000000_0007_01_000001/stderr.gz":
            "INFO run\nerror: table tpch.lineitem does not exist in the catalog: load it\nINFO shutdown",
    }
    for key, text in logs.items():
        s3.put_object(Bucket=bucket, Key=f"emr/{key}", Body=gzip.compress(text.encode()))
    launcher, stub = failed_step(f"s3n://{bucket}/emr/", log_wait_s=5)
    with stub, pytest.raises(LaunchError) as failed:
        launcher.wait("s-1")
    message = str(failed.value)
    assert message.startswith("EMR step s-1 FAILED: table tpch.lineitem does not exist in the catalog: load it (")
    assert f"s3://{bucket}/emr/j-TEST/steps/s-1/" in message


@pytest.mark.services
def test_a_failed_step_whose_logs_never_arrive_still_fails_naming_where_they_will_be(aws):
    launcher, stub = failed_step("s3://pj-no-such-log-bucket/", log_wait_s=0.3)
    with stub, pytest.raises(LaunchError) as failed:
        launcher.wait("s-1")
    message = str(failed.value)
    assert message.startswith("EMR step s-1 FAILED (Reason: Spark failed; Message: exit code 1")
    assert "s3://pj-no-such-log-bucket/j-TEST/steps/s-1/" in message


@pytest.mark.services
def test_a_retry_adopts_its_step_and_a_task_cleared_after_it_ended_runs_the_job_again(aws, emr_cluster):
    """moto keeps every step RUNNING or PENDING, states a retry adopts: only the step's name, which
    carries the try a clear came after, keeps a cleared task from adopting its earlier step."""
    put_artifact_stub(ARTIFACT)
    first = Try(operator(emr_cluster), context(try_number=1))
    [before] = wait_for(lambda: steps(aws, emr_cluster))
    first.die()
    retry = Try(operator(emr_cluster), context(try_number=2))
    assert wait_for(lambda: retry.op._running and retry.op._running.step_id) == before["Id"]
    retry.die()

    # A person clears the task after try 2 ended: try 3 adds a new step.
    cleared = Try(operator(emr_cluster), context(try_number=3, max_tries=2 + RETRIES))
    [new] = wait_for(lambda: [s for s in steps(aws, emr_cluster) if s["Id"] != before["Id"]])
    assert new["Name"] == f"pyspark-jobs {RUN['dag_id']}.{RUN['task_id']} {RUN['run_id']} cleared-after-try-2"
    cleared.die()
    # A retry after that clear adopts the clear's step.
    again = Try(operator(emr_cluster), context(try_number=4, max_tries=2 + RETRIES))
    assert wait_for(lambda: again.op._running and again.op._running.step_id) == new["Id"]
    again.die()
    assert sorted(s["Id"] for s in steps(aws, emr_cluster)) == sorted([before["Id"], new["Id"]])


def test_step_names_are_the_same_on_every_retry_new_for_each_clear_and_fit_emr():
    a = step_name("dag", "task", "scheduled__2024-01-01T00:00:00+00:00")
    assert a == step_name("dag", "task", "scheduled__2024-01-01T00:00:00+00:00") == "pyspark-jobs dag.task " \
        "scheduled__2024-01-01T00:00:00+00:00"
    assert step_name("dag", "task", "r", 3, cleared_after=5) == "pyspark-jobs dag.task r [3] cleared-after-try-5"
    assert len(step_name("d" * 300, "t", "r")) == 256
    assert step_name("d" * 300, "t", "r") != step_name("d" * 300, "t", "r2")


@pytest.mark.services
def test_a_cluster_is_found_by_name_and_a_name_no_running_cluster_has_is_refused(aws, emr_cluster):
    name = aws.describe_cluster(ClusterId=emr_cluster)["Cluster"]["Name"]
    log = __import__("logging").getLogger("t")
    assert EmrLauncher(cluster=name, aws_conn_id=None, poll_interval=0, log=log).cluster_id == emr_cluster
    with pytest.raises(LaunchError, match=r"^no running EMR cluster named 'pj-no-such-cluster'; fix the "
                                          r"deployment's emr_cluster"):
        _ = EmrLauncher(cluster="pj-no-such-cluster", aws_conn_id=None, poll_interval=0, log=log).cluster_id


@pytest.mark.services
def test_a_missing_artifact_file_fails_the_task_before_any_step_is_added(aws, emr_cluster):
    put_artifact_stub(ARTIFACT)
    boto3.client("s3").delete_object(Bucket="pj-artifacts", Key=ARTIFACT.split("/", 3)[3] + "/jobs.zip")
    with pytest.raises(AirflowException, match=rf"^the artifact {ARTIFACT} has no jobs.zip \(404\): publish"):
        operator(emr_cluster).execute(CONTEXT)
    assert steps(aws, emr_cluster) == []

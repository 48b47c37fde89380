"""A deferrable EMR task: it adds its step, defers to `EmrStepTrigger`, and resumes to succeed,
fail with the step's error, or cancel the step when the trigger failed or timed out.

moto never moves a step on (its server keeps it RUNNING or PENDING) and does not implement
CancelSteps. So the trigger's wait is checked against the moto server, its end against moto
in-process, where the test moves the step through moto's own model; a cancel is checked by
the CancelSteps request that reaches moto (which answers that it is not implemented).
"""

from __future__ import annotations

import asyncio
import importlib
import logging

import pytest

boto3 = pytest.importorskip("boto3")
moto = pytest.importorskip("moto")
from airflow.sdk.exceptions import AirflowException, TaskDeferralError, TaskDeferralTimeout, TaskDeferred

from pj_airflow.links import LINKS_KEY
from pj_airflow.triggers import EmrStepTrigger
from tests.dags.test_emr_launcher import ARTIFACT, RUN, context, operator, steps
from tests.helpers import put_artifact_stub


def rebuilt(trigger: EmrStepTrigger) -> EmrStepTrigger:
    """The trigger as the triggerer builds it from the database row."""
    classpath, kwargs = trigger.serialize()
    module, _, name = classpath.rpartition(".")
    return getattr(importlib.import_module(module), name)(**kwargs)


async def first_event(trigger: EmrStepTrigger, timeout: float):
    return await asyncio.wait_for(anext(trigger.run()), timeout)


@pytest.mark.services
def test_a_deferrable_task_adds_its_step_and_defers_to_a_trigger_that_waits_for_it(aws, emr_cluster):
    put_artifact_stub(ARTIFACT)
    ctx = context()
    with pytest.raises(TaskDeferred) as deferred:
        operator(emr_cluster, deferrable=True).execute(ctx)
    [added] = steps(aws, emr_cluster)
    trigger = rebuilt(deferred.value.trigger)
    assert trigger.serialize() == ("pj_airflow.triggers.EmrStepTrigger", {
        "cluster_id": emr_cluster, "step_id": added["Id"], "aws_conn_id": None, "poll_interval": 0.2})
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.kwargs["name"] == added["Name"]
    assert set(ctx["ti"].xcom[LINKS_KEY]) == {"logs", "spark_ui"}  # the links are there while it waits
    # The step is RUNNING on moto: the trigger keeps polling and yields nothing.
    with pytest.raises(TimeoutError):
        asyncio.run(first_event(trigger, timeout=1.5))


@pytest.fixture
def emr_in_process(monkeypatch):
    """moto in-process: (client, the cluster's id, moto's own cluster model, to move steps on)."""
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with moto.mock_aws():
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.emr.models import emr_backends

        client = boto3.client("emr", region_name="us-east-1")
        cluster_id = client.run_job_flow(
            Name="pj-in-process", ReleaseLabel="emr-7.1.0", JobFlowRole="EMR_EC2_DefaultRole",
            ServiceRole="EMR_DefaultRole", Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1,
                                                       "KeepJobFlowAliveWhenNoSteps": True})["JobFlowId"]
        yield client, cluster_id, emr_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].clusters[cluster_id]


def add_step(client, cluster_id: str) -> str:
    step = {"Name": "pyspark-jobs d.t r", "ActionOnFailure": "CONTINUE",
            "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["spark-submit", "x"]}}
    return client.add_job_flow_steps(JobFlowId=cluster_id, Steps=[step])["StepIds"][0]


def test_the_trigger_yields_the_steps_end_once_it_completes(emr_in_process):
    client, cluster_id, cluster = emr_in_process
    step_id = add_step(client, cluster_id)
    trigger = rebuilt(EmrStepTrigger(cluster_id=cluster_id, step_id=step_id, aws_conn_id=None, poll_interval=0.1))

    async def complete_later():
        await asyncio.sleep(0.5)
        cluster.steps[0].state = "COMPLETED"

    async def both():
        _, event = await asyncio.gather(complete_later(), first_event(trigger, timeout=10))
        return event

    event = asyncio.run(both())
    assert event.payload == {"cluster_id": cluster_id, "step_id": step_id, "state": "COMPLETED"}


SPEC = {"job": "demo.daily_revenue", "ds": "1995-03-15", "ds_to": None}  # the deferring try's spec, as_dict()'d


def test_execute_complete_succeeds_on_a_completed_step_and_fails_on_a_failed_one(emr_in_process):
    client, cluster_id, cluster = emr_in_process
    step_id = add_step(client, cluster_id)
    op = operator(cluster_id, deferrable=True)
    cluster.steps[0].state = "COMPLETED"
    done = op.execute_complete(context(), event={"cluster_id": cluster_id, "step_id": step_id, "state": "COMPLETED"},
                               name="pyspark-jobs d.t r", spec=SPEC)
    assert (done["launcher"], done["cluster_id"], done["step_id"]) == ("emr", cluster_id, step_id)

    cluster.steps[0].state = "FAILED"
    with pytest.raises(AirflowException, match=rf"^EMR step {step_id} FAILED; logs: \(cluster {cluster_id} has no "
                                               r"LogUri\)"):
        op.execute_complete(context(), event={"cluster_id": cluster_id, "step_id": step_id, "state": "FAILED"},
                            name="pyspark-jobs d.t r", spec=SPEC)


@pytest.mark.services
@pytest.mark.parametrize(("next_kwargs", "raised"), [
    ({"error": "Trigger timeout"}, TaskDeferralTimeout),  # the scheduler's, at execution_timeout
    ({"error": "Trigger failure", "traceback": ["botocore.exceptions.EndpointConnectionError"]}, TaskDeferralError),
])
def test_a_timed_out_or_failed_trigger_cancels_the_step_when_the_task_resumes_to_fail(aws, emr_cluster, capsys,
                                                                                      next_kwargs, raised):
    put_artifact_stub(ARTIFACT)
    with pytest.raises(TaskDeferred):
        operator(emr_cluster, deferrable=True).execute(context())
    [added] = steps(aws, emr_cluster)
    capsys.readouterr()
    # How Airflow resumes a task whose trigger timed out or failed; the operator's log
    # (structlog) goes to stdout outside a task runner.
    resumed = operator(emr_cluster, deferrable=True)
    with pytest.raises(raised, match=f"^{next_kwargs['error']}$"):
        resumed.resume_execution("__fail__", next_kwargs, context())
    log = capsys.readouterr().out
    assert f"cancelling EMR step {added['Id']} on {emr_cluster}" in log
    assert f"could not cancel step {added['Id']}" in log and "CancelSteps" in log


@pytest.mark.services
def test_killing_the_deferred_task_cancels_its_step_from_the_triggerer(aws, emr_cluster, caplog):
    put_artifact_stub(ARTIFACT)
    with pytest.raises(TaskDeferred) as deferred:
        operator(emr_cluster, deferrable=True).execute(context())
    [added] = steps(aws, emr_cluster)
    with caplog.at_level(logging.INFO, logger="pj_airflow.triggers"):
        asyncio.run(rebuilt(deferred.value.trigger).on_kill())
    assert f"cancelling EMR step {added['Id']} on {emr_cluster}" in caplog.text
    assert f"could not cancel step {added['Id']}" in caplog.text and "CancelSteps" in caplog.text
    assert RUN["run_id"] in added["Name"]
